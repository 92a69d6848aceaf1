#!/usr/bin/env bash
# Quickstart 2: installs the dependencies, builds everything and runs the whole test
# suite; then builds the suite again with -fsanitize=address,undefined and runs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/install-deps.sh
jobs="$(nproc)"
start=$(date +%s)

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$jobs"
echo "flowtmpl: release build took $(( $(date +%s) - start )) s"
ctest --test-dir build/release -j "$jobs" --output-on-failure

san_start=$(date +%s)
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWTMPL_BUILD_BENCHMARKS=OFF \
  -DFLOWTMPL_BUILD_COMPILE_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" >/dev/null
cmake --build build/sanitize -j "$jobs"
echo "flowtmpl: sanitizer build took $(( $(date +%s) - san_start )) s"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/sanitize -j "$jobs" --output-on-failure -LE compile
echo "flowtmpl: the whole suite took $(( $(date +%s) - start )) s"
