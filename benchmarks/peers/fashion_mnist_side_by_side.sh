#!/usr/bin/env bash
# benchmarks/peers/fashion_mnist_side_by_side.sh: the multi-scale Glow-style flow of
# examples/fashion_mnist.cpp trained by flowtmpl and by normflows (fashion_mnist_peer.py:
# the same architecture, data, preprocessing, optimizer, batch and wall-clock budget,
# the same threads), one after the other on an otherwise idle machine; prints each one's
# JSON line (test bits/dim, images per second in training) and the ratio of the
# throughputs. Not part of the test suite.
#
#   fashion_mnist_side_by_side.sh [--budget SECONDS] [--threads T] [--batch B] [--out DIR]
#
# --budget: training seconds for each (default 1800). --threads: OpenMP threads for
# flowtmpl, torch threads for normflows (default 2). --out: where both write (default
# build/peers/fashion_mnist). flowtmpl's example is built as tools/run-fashion-mnist.sh
# builds it (-march=native). The Python environment: $FLOWTMPL_PEERS_VENV, default
# venv-peers next to the repository (two_moons_side_by_side.sh --setup creates it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FLOWTMPL_PEERS_VENV:-$(dirname "$root")/venv-peers}"
budget=1800 threads=2 batch=64 out="$root/build/peers/fashion_mnist"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --budget) budget="${2:?--budget needs seconds}"; shift ;;
    --threads) threads="${2:?--threads needs a number}"; shift ;;
    --batch) batch="${2:?--batch needs a number}"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    *) echo "fashion_mnist_side_by_side: unknown argument $1" >&2; exit 1 ;;
  esac
  shift
done
[[ -x "$venv/bin/python" ]] || { echo "fashion_mnist_side_by_side: no Python environment at $venv" >&2; exit 1; }
mkdir -p "$out"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $threads, batch $batch, budget $budget s"
OMP_NUM_THREADS="$threads" bash "$root/tools/run-fashion-mnist.sh" --budget "$budget" --batch "$batch" | tee "$out/flowtmpl.log"
"$venv/bin/python" "$here/fashion_mnist_peer.py" --budget "$budget" --threads "$threads" --batch "$batch" 2> "$out/normflows.err" | tee "$out/normflows.json"
ours=$(grep '^{"flow"' "$out/flowtmpl.log" | sed 's/.*"images_per_second": \([0-9.]*\).*/\1/')
theirs=$(sed 's/.*"images_per_second": \([0-9.]*\).*/\1/' "$out/normflows.json")
echo "training throughput, flowtmpl / normflows: $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
