#!/usr/bin/env bash
# The image flow example: installs the dependencies and Debian's Fashion-MNIST,
# decompresses it, builds and trains a multi-scale Glow-style flow for the budget given
# (default: --budget 1800, 30 minutes on 2 cores; built with -march=native, as the
# benchmarks compared with PyTorch are), and says where its picture is.
# Arguments are passed to the example (examples/fashion_mnist.cpp): e.g. --quick.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/install-deps.sh
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=OFF -DFLOWTMPL_BUILD_BENCHMARKS=OFF -DFLOWTMPL_BUILD_EXAMPLES=ON \
  -DFLOWTMPL_EXAMPLES_NATIVE=ON >/dev/null
cmake --build build/example --target fashion_mnist
data="$root/build/example/fashion_mnist/data"
mkdir -p "$data"
for f in train-images-idx3-ubyte t10k-images-idx3-ubyte; do
  [ -s "$data/$f" ] || gzip -dc "/usr/share/datasets/fashion-mnist/$f.gz" > "$data/$f"
done
out="$root/build/example/fashion_mnist"
./build/example/examples/fashion_mnist "$data" "$out" "$@"
