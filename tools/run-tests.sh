#!/usr/bin/env bash
# Quickstart 2: installs the dependencies, then builds and runs the whole test suite in
# two builds:
#   build/release   g++ -O3: examples, benchmarks (built), the compile and packaging tests
#                   (static, failtest, deploy, freestanding, compile budget, design
#                   claims), the CUDA targets (nvcc, where it is found; built once,
#                   here), and the unit test cases tagged [acceptance] (10^6 inputs, 10^4
#                   training steps)
#   build/sanitize  clang++-19 -O0 -fsanitize=address,undefined with the targets'
#                   -Wall -Wextra -Wpedantic -Werror: every unit test (all the other
#                   cases; the bad-input sweep of every family included; the files of
#                   each folder compiled in batches of 8, FLOWTMPL_UNITY_TESTS), the fuzz
#                   targets for 20 s each (label fuzz, libFuzzer at -O1: docs/fuzzing.md),
#                   the device parity tests, every header on its own, the static
#                   checks and the no-allocation test; the targets that run whole flows
#                   over thousands of samples or ODE solves (the chain and continuous
#                   parity tests, the continuous flows' tests, the bad-input sweep of the
#                   residual, continuous and image flows) at -O1
# After each build it prints the slowest translation units (seconds of wall time, from
# ninja's log): the compile time is a number this project watches.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/install-deps.sh
jobs="$(nproc)"
start=$(date +%s)

# slowest BUILD_DIR: the ten slowest translation units of the build in BUILD_DIR (sed,
# not head: head's early exit can end sort with SIGPIPE, which pipefail makes fatal)
slowest() {
  awk 'NR > 1 && $4 ~ /\.o$/ { printf "%8.1f s  %s\n", ($2 - $1) / 1000, $4 }' \
    "$1/.ninja_log" | sort -rn | sed -n '1,10p'
}
stage() { echo "flowtmpl: $1 took $(( $(date +%s) - $2 )) s"; }

t=$(date +%s)
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=ON \
  -DFLOWTMPL_UNIT_TESTS=acceptance -DFLOWTMPL_BUILD_EXAMPLES=ON -DFLOWTMPL_BUILD_BENCHMARKS=ON \
  -DFLOWTMPL_BUILD_COMPILE_TESTS=ON -DFLOWTMPL_STANDALONE_HEADER_TESTS=OFF >/dev/null
cmake --build build/release -j "$jobs"
stage "release build" "$t"
slowest build/release
ctest --test-dir build/release -j "$jobs" --output-on-failure --no-tests=error
stage "release build and tests" "$t"

t=$(date +%s)
# The cases tagged [acceptance] and the examples ran above. clang++-19 at -O0 without -g:
# the sanitizers catch the same errors, and it compiles these template-heavy tests in
# half the time g++ 12 takes (measured on exp_test.cpp with both sanitizers: 17 s against
# 36 s of CPU; g++ -O1: 59 s), while checking every test and header for clang's warnings
# on the way. nvcc's targets and the deploy tests ran in the release build.
cmake -S . -B build/sanitize -G Ninja -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_BUILD_TYPE= \
  -DFLOWTMPL_BUILD_BENCHMARKS=OFF -DFLOWTMPL_BUILD_EXAMPLES=OFF -DFLOWTMPL_CUDA=OFF \
  -DFLOWTMPL_BUILD_COMPILE_TESTS=ON -DFLOWTMPL_UNIT_TESTS=all -DFLOWTMPL_SKIP_ACCEPTANCE=ON \
  -DFLOWTMPL_UNITY_TESTS=ON -DFLOWTMPL_WHOLE_FLOW_TARGET_FLAGS=-O1 \
  -DCMAKE_CXX_FLAGS="-O0 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" >/dev/null
cmake --build build/sanitize -j "$jobs"
stage "sanitizer build (clang++-19)" "$t"
slowest build/sanitize
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/sanitize -j "$jobs" --output-on-failure --no-tests=error -LE deploy
stage "sanitizer build and tests" "$t"

echo "flowtmpl: the whole suite took $(( $(date +%s) - start )) s"
