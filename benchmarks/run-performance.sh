#!/usr/bin/env bash
# benchmarks/run-performance.sh: the one command behind docs/performance.md.
#   1. the Python peers' environment (benchmarks/peers/requirements.txt: PyTorch's own
#      wheel from PyPI, nflows, zuko), created once outside the repository;
#   2. flow_suite built for this machine (-march=native, Release) in build/perf;
#   3. flow_suite: the machine's FMA and GEMM peak, then every row, 3 repetitions,
#      random interleaving, single process;
#   4. benchmarks/peers/flow_peers.py: the same rows in nflows and zuko (and normflows
#      for the residual flow of the flows added since), eager and
#      torch.compile, and log_prob at batch 1 and 65536 through ONNX Runtime and through
#      LibTorch called from C++ (--deploy: what a C++ program deploying the PyTorch flow
#      runs; peers/deploy_peers.py), with the same thread counts (where PyPI cannot be
#      reached: the same flows in plain PyTorch, peers/plain_flows.py, on Debian's
#      python3-torch, said so in the tables);
#   5. compile_time.sh: compile time and memory of 1 to 64 NSF layers with gradients;
#   6. report.py: DIR/tables.md (ratios per row, targets) and DIR/throughput.png.
# Results in DIR (default build/perf/results). Takes about 30 minutes on 2 cores (29 on
# the AVX2 machine of docs/performance.md); run it on an otherwise idle machine.
#   run-performance.sh [--out DIR] [--quick]
# --quick: one repetition and shorter minimum times (a smoke run, not for the docs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$root/build/perf/results" quick=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift ;;
    --quick) quick=1 ;;
    *) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
venv="${FLOWTMPL_PEERS_VENV:-$(dirname "$root")/venv-peers}"
python="$venv/bin/python" libs=nflows,zuko
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import torch, nflows, zuko, matplotlib, onnxruntime" 2>/dev/null; then
  if ! bash "$here/peers/two_moons_side_by_side.sh" --setup; then
    # PyPI cannot be reached: nflows and zuko are not packaged by Debian, so the peers
    # become the same flows in plain PyTorch (peers/plain_flows.py) on Debian's torch.
    echo "run-performance: the Python environment could not be created from PyPI; falling back to Debian's" \
      "python3-torch with the flows of benchmarks/peers/plain_flows.py (Debian's torch links the reference" \
      "BLAS or OpenBLAS, not MKL: the peers' times are not PyPI's)" >&2
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get update >/dev/null
    $sudo apt-get install -y --no-install-recommends python3-torch python3-matplotlib >/dev/null
    python=/usr/bin/python3 libs=torch
  fi
fi

cmake -S "$root" -B "$root/build/perf" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=OFF \
  -DFLOWTMPL_BUILD_EXAMPLES=OFF -DFLOWTMPL_BUILD_BENCHMARKS=ON -DFLOWTMPL_BENCH_NATIVE=ON -DFLOWTMPL_DEVICE=OFF \
  -DFLOWTMPL_CUDA=OFF >/dev/null
cmake --build "$root/build/perf" --target flow_suite -j "$(nproc)"

reps=3 min=0.1 pmin=0.2 preps=3
[[ $quick == 1 ]] && reps=1 min=0.01 pmin=0.02 preps=1
echo "run-performance: flow_suite (results in $out/suite.json)"
"$root/build/perf/benchmarks/flow_suite" --benchmark_repetitions=$reps --benchmark_min_time=$min \
  --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/suite.json" --benchmark_out_format=json
echo "run-performance: peers (results in $out/peers.json)"
deploy=()
[[ $libs != torch ]] && deploy=(--deploy)
"$python" "$here/peers/flow_peers.py" --libs "$libs" --out "$out/peers.json" --compile "${deploy[@]}" \
  --min-time $pmin --repetitions $preps
echo "run-performance: compile time (results in $out/compile.json)"
bash "$here/compile_time.sh" "$out/compile.json"
"$python" "$here/report.py" "$out"
echo "run-performance: tables in $out/tables.md, plot in $out/throughput.png"
