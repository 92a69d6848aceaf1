#!/usr/bin/env bash
# Data-parallel training over MPI on this machine (docs/performance.md, "MPI"): builds
# benchmarks/mpi_scaling.cpp (Release, build-bench/), runs it on 1 process and on 2
# processes (one OpenMP thread each, each bound to its own core), and on 1 process with
# 2 threads for reference, then prints the speedups. Needs Open MPI (tools/install-deps.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=OFF \
  -DFLOWTMPL_BUILD_EXAMPLES=OFF -DFLOWTMPL_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build-bench --target mpi_scaling
run() { OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --allow-run-as-root --oversubscribe "$@"; }
out=build-bench/mpi_scaling.txt
{
  echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(mpirun --version | head -1)"
  OMP_NUM_THREADS=1 run -np 1 build-bench/benchmarks/mpi_scaling | sed 's/^/1proc-1thread /'
  OMP_NUM_THREADS=1 run -np 2 --bind-to core build-bench/benchmarks/mpi_scaling | sed 's/^/2proc-1thread /'
  OMP_NUM_THREADS=2 run -np 1 --bind-to none build-bench/benchmarks/mpi_scaling | sed 's/^/1proc-2thread /'
} | tee "$out"
for flow in RealNVP NSF; do
  awk -v f="$flow" '$2 == "train" && $3 == f { rate[$1] = $5 }
    END { printf "%s: 2 processes / 1 process = %.2fx; 1 process, 2 threads / 1 thread = %.2fx\n", f,
                 rate["2proc-1thread"] / rate["1proc-1thread"], rate["1proc-2thread"] / rate["1proc-1thread"] }' "$out"
done
echo "flowtmpl: results in $out"
