#!/usr/bin/env bash
# benchmarks/peers/two_moons_side_by_side.sh: the neural spline flow of
# examples/two_moons.cpp trained by flowtmpl and by nflows (two_moons_peer.py) on the
# same data with the same architecture and optimizer settings; prints both held-out
# NLLs and their difference. Not part of the test suite.
#
#   two_moons_side_by_side.sh [STEPS] [--steps N] [--seed S] [--threads T] [--out DIR]
#                             [--exe PATH] [--orientation flowtmpl|nflows]
#   two_moons_side_by_side.sh --setup       create the Python environment, then exit
#
# STEPS / --steps: optimizer steps for both (default: the example's own default).
# --threads T: OpenMP threads for flowtmpl and torch threads for nflows (default 1).
# --out DIR: where the data, config and picture go (default build/peers/two_moons).
# --exe PATH: a two_moons executable built elsewhere (default: build it in build/peers).
# --orientation: passed to two_moons_peer.py (default flowtmpl: the same function of
#   the same parameters; nflows: nflows's usual NSF, splines forward on the data).
# The Python environment: $FLOWTMPL_PEERS_VENV, default venv-peers next to the
# repository (outside it). FLOWTMPL_PEERS_JOBS: build jobs (default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FLOWTMPL_PEERS_VENV:-$(dirname "$root")/venv-peers}"
jobs="${FLOWTMPL_PEERS_JOBS:-1}"
build="$root/build/peers"

usage() {
  sed -n '7,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}
die() {
  echo "two_moons_side_by_side: $*" >&2
  exit 1
}

setup=0 steps="" seed=1 threads=1 out="$build/two_moons" exe="" orientation=flowtmpl
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setup) setup=1 ;;
    --steps) steps="${2:?--steps needs a number}"; shift ;;
    --seed) seed="${2:?--seed needs a number}"; shift ;;
    --threads) threads="${2:?--threads needs a number}"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --exe) exe="${2:?--exe needs a path}"; shift ;;
    --orientation) orientation="${2:?--orientation needs flowtmpl or nflows}"; shift ;;
    -h | --help) usage; exit 0 ;;
    [0-9]*) steps="$1" ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done
for v in seed threads; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--$v must be a non-negative integer (got '${!v}')"
done
[[ -z "$steps" || "$steps" =~ ^[1-9][0-9]*$ ]] || die "the number of steps must be a positive integer (got '$steps')"
[[ "$threads" -ge 1 ]] || die "--threads must be at least 1"

if [[ $setup == 1 ]]; then
  echo "creating the Python environment $venv from benchmarks/peers/requirements.txt"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --upgrade pip
  # PyTorch's CPU wheel where its index is reachable (small); otherwise PyPI's torch
  if ! "$venv/bin/pip" install --retries 0 --timeout 15 --index-url https://download.pytorch.org/whl/cpu \
    "$(grep -E '^torch==' "$here/requirements.txt")"; then
    echo "(download.pytorch.org not reachable: torch comes from PyPI, the CUDA build, several GB)"
  fi
  "$venv/bin/pip" install -r "$here/requirements.txt"
  echo "done; now run: $0 [STEPS]"
  exit 0
fi

# The Python side first: a missing environment is found before a long build.
py="$venv/bin/python"
if [[ ! -x "$py" ]] || ! "$py" -c 'import torch, nflows' 2>/dev/null; then
  die "no Python environment with torch and nflows at $venv
  create it with:  $0 --setup
  or by hand:      python3 -m venv $venv && $venv/bin/pip install -r $here/requirements.txt
  (another place:  FLOWTMPL_PEERS_VENV=/path/to/venv $0 --setup)"
fi

if [[ -z "$exe" ]]; then
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  echo "building examples/two_moons (Release) in $build" >&2
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DFLOWTMPL_BUILD_TESTS=OFF \
    -DFLOWTMPL_BUILD_BENCHMARKS=OFF -DFLOWTMPL_BUILD_EXAMPLES=ON >/dev/null ||
    die "cmake could not configure $build"
  if ! grep -q '/two_moons.dir$' "$build/CMakeFiles/TargetDirectories.txt" 2>/dev/null; then
    die "the two_moons example is not configured: it needs stb_image_write (Debian: libstb-dev)"
  fi
  cmake --build "$build" --target two_moons -j "$jobs" || die "the C++ example examples/two_moons.cpp did not build (above)"
  exe="$build/examples/two_moons"
fi
[[ -x "$exe" ]] || die "no executable at $exe"

mkdir -p "$out"
cxx_args=("$out" --model nsf --seed "$seed")
[[ -n "$steps" ]] && cxx_args+=(--steps "$steps")
peer_args=("$out" --seed "$seed" --threads "$threads" --orientation "$orientation")
[[ -n "$steps" ]] && peer_args+=(--steps "$steps")

echo "flowtmpl: $exe ${cxx_args[*]}  (OMP_NUM_THREADS=$threads)" >&2
cxx_out="$(OMP_NUM_THREADS="$threads" "$exe" "${cxx_args[@]}")" || die "the C++ example failed"
echo "$cxx_out"
echo "nflows: two_moons_peer.py ${peer_args[*]}" >&2
py_out="$("$py" "$here/two_moons_peer.py" "${peer_args[@]}")" || die "two_moons_peer.py failed"
echo "$py_out"

# "NSF      held-out NLL 1.2345 nats  (2000 steps, 12.3 s)" -> "1.2345 2000 12.3"
fields() { sed -n "s/^$1 *held-out NLL \([-0-9.naif]*\) nats  (\([0-9]*\) steps, \([0-9.]*\) s).*/\1 \2 \3/p"; }
read -r c_nll c_steps c_sec <<<"$(fields NSF <<<"$cxx_out")" || true
read -r p_nll p_steps p_sec <<<"$(fields nflows <<<"$py_out")" || true
[[ -n "${c_nll:-}" ]] || die "no 'NSF      held-out NLL' line in the C++ example's output"
[[ -n "${p_nll:-}" ]] || die "no 'nflows   held-out NLL' line in the peer's output"
[[ "$c_steps" == "$p_steps" ]] || echo "warning: flowtmpl ran $c_steps steps, nflows $p_steps" >&2

echo
echo "two moons, NSF (config: $out/two_moons_config.json), $c_steps steps, seed $seed, $threads thread(s), nflows orientation $orientation"
awk -v cn="$c_nll" -v cs="$c_sec" -v pn="$p_nll" -v ps="$p_sec" 'BEGIN {
  printf "  %-10s %20s %16s\n", "library", "held-out NLL (nats)", "training (s)"
  printf "  %-10s %20.4f %16.1f\n", "flowtmpl", cn, cs
  printf "  %-10s %20.4f %16.1f\n", "nflows", pn, ps
  printf "  %-10s %+20.4f %15.1fx\n", "difference", pn - cn, (cs > 0 ? ps / cs : 0)
}'
echo "  (difference: nflows's NLL minus flowtmpl's, and nflows's training time over flowtmpl's; the two runs"
echo "   draw their initial weights and minibatches from different generators, so they are two seeds"
echo "   of one experiment: compare the difference with the spread over --seed)"
