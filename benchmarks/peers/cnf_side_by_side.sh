#!/usr/bin/env bash
# benchmarks/peers/cnf_side_by_side.sh: the continuous normalizing flow of
# examples/continuous_flow.cpp (DynamicsMLP<64, 64> with ELU, a sinusoidal time embedding of
# 3 frequencies, Dopri5 at atol 1e-6, rtol 1e-5) trained by flowtmpl and by zuko
# (cnf_peer.py) on the same two-moons data with the same architecture, trace mode and
# optimizer settings; prints both held-out NLLs, the median time of log_prob and of one
# training step at batch BATCH, the ratios and the ODE's network evaluations per log_prob.
# Not part of the test suite.
#
#   cnf_side_by_side.sh [--steps N] [--trace exact|hutchinson] [--seed S]
#                       [--batch B] [--repeats R] [--threads T] [--out DIR] [--exe PATH]
#
# --steps: optimizer steps for both (default 1000). --batch: the timing batch (1024).
# --repeats: timed runs after one warm-up (5). --threads: OpenMP threads for flowtmpl and
# torch threads for zuko (1: the per-core comparison). --out: where the data, config
# and picture go (build/peers/cnf). --exe: a continuous_flow built elsewhere.
# The Python environment: $FLOWTMPL_PEERS_VENV, default venv-peers next to the repository
# (two_moons_side_by_side.sh --setup creates it; zuko is in requirements.txt).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FLOWTMPL_PEERS_VENV:-$(dirname "$root")/venv-peers}"
jobs="${FLOWTMPL_PEERS_JOBS:-1}"
build="$root/build/peers"

usage() { sed -n '10,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() {
  echo "cnf_side_by_side: $*" >&2
  exit 1
}

steps=1000 mode=exact seed=1 batch=1024 repeats=5 threads=1 out="$build/cnf" exe=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps="${2:?--steps needs a number}"; shift ;;
    --trace) mode="${2:?--trace needs exact or hutchinson}"; shift ;;
    --seed) seed="${2:?--seed needs a number}"; shift ;;
    --batch) batch="${2:?--batch needs a number}"; shift ;;
    --repeats) repeats="${2:?--repeats needs a number}"; shift ;;
    --threads) threads="${2:?--threads needs a number}"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --exe) exe="${2:?--exe needs a path}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done
for v in steps seed batch repeats threads; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--$v must be a non-negative integer (got '${!v}')"
done
[[ "$mode" == exact || "$mode" == hutchinson ]] || die "--trace must be exact or hutchinson (got '$mode')"
[[ "$steps" -ge 1 && "$batch" -ge 1 && "$repeats" -ge 1 && "$threads" -ge 1 ]] ||
  die "--steps, --batch, --repeats and --threads must be at least 1"

py="$venv/bin/python"
if [[ ! -x "$py" ]] || ! "$py" -c 'import torch, zuko' 2>/dev/null; then
  die "no Python environment with torch and zuko at $venv
  create it with:  $here/two_moons_side_by_side.sh --setup
  or by hand:      python3 -m venv $venv && $venv/bin/pip install -r $here/requirements.txt"
fi

if [[ -z "$exe" ]]; then
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  echo "building examples/continuous_flow (Release) in $build" >&2
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=OFF \
    -DFLOWTMPL_BUILD_BENCHMARKS=OFF -DFLOWTMPL_BUILD_EXAMPLES=ON >/dev/null ||
    die "cmake could not configure $build"
  if ! grep -q '/continuous_flow.dir$' "$build/CMakeFiles/TargetDirectories.txt" 2>/dev/null; then
    die "the continuous_flow example is not configured (examples/CMakeLists.txt: the examples that draw" \
      "pictures need stb_image_write, Debian: libstb-dev)"
  fi
  cmake --build "$build" --target continuous_flow -j "$jobs" || die "examples/continuous_flow.cpp did not build (above)"
  exe="$build/examples/continuous_flow"
fi
[[ -x "$exe" ]] || die "no executable at $exe"
mkdir -p "$out"

echo "flowtmpl: $exe $out --steps $steps --trace $mode --seed $seed --timing $batch $repeats (OMP_NUM_THREADS=$threads)" >&2
cxx_out="$(OMP_NUM_THREADS="$threads" "$exe" "$out" --steps "$steps" --trace "$mode" --seed "$seed" \
  --timing "$batch" "$repeats")" || die "the C++ example failed"
echo "$cxx_out"
echo "zuko: cnf_peer.py $out --seed $seed --threads $threads --repeats $repeats --timing-batch $batch --steps $steps" >&2
py_out="$("$py" "$here/cnf_peer.py" "$out" --seed "$seed" --threads "$threads" --repeats "$repeats" \
  --timing-batch "$batch" --steps "$steps")" || die "cnf_peer.py failed"
echo "$py_out"

nll() { sed -n "s/^$1 *held-out NLL \([-0-9.naif]*\) nats  (\([0-9]*\) steps, \([0-9.]*\) s).*/\1 \3/p"; }
ms() { sed -n "s/^$1 *$2 batch [0-9]*: median \([0-9.]*\) ms.*/\1/p"; }
nfe() { grep -m1 "^$1 *NFE log_prob batch " || true; }
read -r c_nll c_sec <<<"$(nll CNF <<<"$cxx_out")" || true
read -r p_nll p_sec <<<"$(nll zuko <<<"$py_out")" || true
c_lp="$(ms flowtmpl log_prob <<<"$cxx_out")" p_lp="$(ms zuko log_prob <<<"$py_out")"
c_st="$(ms flowtmpl 'train step' <<<"$cxx_out")" p_st="$(ms zuko 'train step' <<<"$py_out")"
c_nfe="$(nfe flowtmpl <<<"$cxx_out")" p_nfe="$(nfe zuko <<<"$py_out")"
for v in c_nll p_nll c_lp p_lp c_st p_st c_nfe p_nfe; do [[ -n "${!v:-}" ]] || die "a result line is missing ($v)"; done

echo
echo "continuous flow, two moons, $steps steps, trace $mode, seed $seed, $threads thread(s), batch $batch," \
  "medians of $repeats; CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
awk -v cn="$c_nll" -v pn="$p_nll" -v cs="$c_sec" -v ps="$p_sec" -v cl="$c_lp" -v pl="$p_lp" -v ct="$c_st" -v pt="$p_st" 'BEGIN {
  printf "  %-10s %14s %14s %16s %18s\n", "library", "held-out NLL", "training (s)", "log_prob (ms)", "train step (ms)"
  printf "  %-10s %14.4f %14.1f %16.2f %18.2f\n", "flowtmpl", cn, cs, cl, ct
  printf "  %-10s %14.4f %14.1f %16.2f %18.2f\n", "zuko", pn, ps, pl, pt
  printf "  %-10s %+14.4f %13.1fx %15.1fx %17.1fx\n", "zuko-", pn - cn, (cs > 0 ? ps / cs : 0), (cl > 0 ? pl / cl : 0), (ct > 0 ? pt / ct : 0)
}'
echo "  (last row: zuko's NLL minus flowtmpl's, and zuko's times over flowtmpl's; zuko's NLL always with the exact trace)"
echo "  network evaluations per log_prob:"
echo "    $c_nfe  (flowtmpl: steps chosen per sample)"
echo "    $p_nfe  (zuko: steps chosen per batch, the worst sample and component; 7 per attempted step)"
