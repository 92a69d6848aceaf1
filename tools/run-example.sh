#!/usr/bin/env bash
# Quickstart 1: installs the dependencies, builds and runs the main example.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/install-deps.sh
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=OFF -DFLOWTMPL_BUILD_BENCHMARKS=OFF -DFLOWTMPL_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/example --target quickstart
out="$root/build/example/examples/quickstart_samples.csv"
./build/example/examples/quickstart "$out"
echo "flowtmpl: the example's output (samples at temperatures 1 and 0.5, with their log densities) is in $out"
