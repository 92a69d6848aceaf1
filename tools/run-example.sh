#!/usr/bin/env bash
# Quickstart 1: installs the dependencies, builds and runs the main example: a RealNVP
# and a neural spline flow trained on the two-moons data in C++, with a picture of what
# they learned.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/install-deps.sh
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=OFF -DFLOWTMPL_BUILD_BENCHMARKS=OFF -DFLOWTMPL_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/example --target two_moons
out="$root/build/example/two_moons"
mkdir -p "$out"
./build/example/examples/two_moons "$out"
echo "flowtmpl: the picture is $out/two_moons.png (rows: RealNVP, NSF; columns: held-out data, the model's density, samples from the model)"
