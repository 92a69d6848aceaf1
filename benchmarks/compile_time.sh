#!/usr/bin/env bash
# benchmarks/compile_time.sh: compile time and peak compiler memory of NSF chains with
# gradients (tests/compile_budget/chain.cpp), g++ -O2, for 1, 4, 16 and 64 layers, each
# with the layers of one type (as a flow repeats its step) and of distinct types (the
# cost of composition itself). Writes OUT (JSON; default build/perf/results/compile.json).
#   compile_time.sh [OUT] [LAYERS...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/build/perf/results/compile.json}"
shift || true
layers=("$@")
[[ ${#layers[@]} -gt 0 ]] || layers=(1 4 16 64)
work="$root/build/perf/compile"
mkdir -p "$work" "$(dirname "$out")"
cxx="${CXX:-g++}"
"$cxx" -O2 -o "$work/compile_probe" "$root/tests/compile_budget/probe.cpp"
eigen="$(pkg-config --cflags-only-I eigen3 2>/dev/null | sed 's/-I//; s/[[:space:]]*$//' || true)"
eigen="${eigen:-/usr/include/eigen3}"
{
  echo "{\"compiler\": \"$("$cxx" --version | head -1)\", \"flags\": \"-std=gnu++20 -O2 -fopenmp\", \"rows\": ["
  sep=""
  for kind in same distinct; do
    for n in "${layers[@]}"; do
      def=()
      [[ $kind == distinct ]] && def=(-DFLOWTMPL_BUDGET_DISTINCT)
      r="$("$work/compile_probe" "$cxx" -std=gnu++20 -O2 -fopenmp -I"$root/include" -isystem "$eigen" "${def[@]}" \
           -DFLOWTMPL_BUDGET_LAYERS="$n" -c "$root/tests/compile_budget/chain.cpp" -o "$work/chain_${kind}_$n.o")"
      echo "compile_time: $n layers ($kind types): $r" >&2
      cpu="$(sed -E 's/.*cpu_seconds=([0-9.]+).*/\1/' <<<"$r")"
      wall="$(sed -E 's/.*wall_seconds=([0-9.]+).*/\1/' <<<"$r")"
      mb="$(sed -E 's/.*peak_mb=([0-9]+).*/\1/' <<<"$r")"
      echo "$sep {\"layers\": $n, \"types\": \"$kind\", \"cpu_seconds\": $cpu, \"wall_seconds\": $wall, \"peak_mb\": $mb}"
      sep=","
    done
  done
  echo "]}"
} >"$out"
echo "compile_time: wrote $out" >&2
