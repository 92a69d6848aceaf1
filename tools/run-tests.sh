#!/usr/bin/env bash
# Quickstart 2: installs the dependencies, builds everything and runs the whole test
# suite; then builds the suite again with -fsanitize=address,undefined and runs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/install-deps.sh
jobs="$(nproc)"
start=$(date +%s)

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=ON \
  -DFLOWTMPL_BUILD_EXAMPLES=ON -DFLOWTMPL_BUILD_BENCHMARKS=ON -DFLOWTMPL_BUILD_COMPILE_TESTS=ON >/dev/null
cmake --build build/release -j "$jobs"
echo "flowtmpl: release build took $(( $(date +%s) - start )) s"
ctest --test-dir build/release -j "$jobs" --output-on-failure

san_start=$(date +%s)
# The cases tagged [acceptance] (10^6 inputs each, 10^4 training steps) run in the
# release build only, and the training examples take 5 steps and draw a small picture. -O0 without -g: the sanitizers catch the same errors, and instrumenting optimized
# template-heavy code costs three times the compile time (measured on lu_conv_test.cpp:
# 345 s and 5 GB at -O2 -g, 103 s and 2.5 GB at -O0).
# nvcc's targets are compiled once, in the release build (-DFLOWTMPL_CUDA=OFF here).
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE= -DFLOWTMPL_BUILD_BENCHMARKS=OFF -DFLOWTMPL_CUDA=OFF \
  -DFLOWTMPL_BUILD_COMPILE_TESTS=OFF "-DFLOWTMPL_UNIT_TEST_ARGS=~[acceptance]" "-DFLOWTMPL_EXAMPLE_TEST_ARGS=--steps;5;--small" \
  -DCMAKE_CXX_FLAGS="-O0 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" >/dev/null
cmake --build build/sanitize -j "$jobs"
echo "flowtmpl: sanitizer build took $(( $(date +%s) - san_start )) s"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/sanitize -j "$jobs" --output-on-failure -LE compile
echo "flowtmpl: the whole suite took $(( $(date +%s) - start )) s"
