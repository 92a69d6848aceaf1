#!/usr/bin/env bash
# benchmarks/peers/posterior_side_by_side.sh: neural posterior estimation on the
# gaussian_linear and two_moons tasks, by sbi (posterior_peer.py, which also simulates
# and writes the data) and then by flowtmpl's C++ side on the same data. Not part of the
# test suite.
#
#   posterior_side_by_side.sh [ARGS...]   run posterior_peer.py ARGS..., then the C++ side
#   posterior_side_by_side.sh --setup     create or extend the Python environment, then exit
#
# ARGS go to posterior_peer.py unchanged (its --help lists them: --quick, --seed,
# --data-dir, --out, ...). The C++ side: $FLOWTMPL_POSTERIOR_BIN (default
# build/release/benchmarks/posterior_side_by_side), run as
# `BIN --data-dir DIR --out DIR/flowtmpl_results.json` when it exists, DIR being
# posterior_peer.py's data directory (default build/posterior-data).
# The Python environment: $FLOWTMPL_PEERS_VENV, default venv-peers next to the
# repository (outside it), shared with two_moons_side_by_side.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FLOWTMPL_PEERS_VENV:-$(dirname "$root")/venv-peers}"
bin="${FLOWTMPL_POSTERIOR_BIN:-$root/build/release/benchmarks/posterior_side_by_side}"

usage() {
  sed -n '7,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}
die() {
  echo "posterior_side_by_side: $*" >&2
  exit 1
}

setup=0 data_dir="$root/build/posterior-data" peer_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setup) setup=1 ;;
    -h | --help)
      usage
      if [[ -x "$venv/bin/python" ]]; then
        echo
        "$venv/bin/python" "$here/posterior_peer.py" --help
      fi
      exit 0
      ;;
    --data-dir)
      [[ $# -ge 2 ]] || die "--data-dir needs a directory"
      data_dir="$2"; peer_args+=("$1" "$2"); shift ;;
    --data-dir=*) data_dir="${1#--data-dir=}"; peer_args+=("$1") ;;
    *) peer_args+=("$1") ;;
  esac
  shift
done

if [[ $setup == 1 ]]; then
  if [[ -x "$venv/bin/python" ]]; then
    echo "extending the Python environment $venv with benchmarks/peers/requirements-sbi.txt"
  else
    echo "creating the Python environment $venv from benchmarks/peers/requirements-sbi.txt"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --upgrade pip
  # PyTorch's CPU wheel where its index is reachable (small); otherwise PyPI's torch
  if ! "$venv/bin/pip" install --retries 0 --timeout 15 --index-url https://download.pytorch.org/whl/cpu \
    "$(grep -E '^torch==' "$here/requirements-sbi.txt")"; then
    echo "(download.pytorch.org not reachable: torch comes from PyPI, the CUDA build, several GB)"
  fi
  # both files at once, so that the two peers' pins are resolved together
  "$venv/bin/pip" install -r "$here/requirements.txt" -r "$here/requirements-sbi.txt"
  echo "done; now run: $0 [--quick]"
  exit 0
fi

py="$venv/bin/python"
if [[ ! -x "$py" ]] || ! "$py" -c 'import torch, sbi' 2>/dev/null; then
  die "no Python environment with torch and sbi at $venv
  create it with:  $0 --setup
  or by hand:      python3 -m venv $venv && $venv/bin/pip install -r $here/requirements-sbi.txt
  (another place:  FLOWTMPL_PEERS_VENV=/path/to/venv $0 --setup)"
fi

echo "sbi: posterior_peer.py ${peer_args[*]}" >&2
"$py" "$here/posterior_peer.py" "${peer_args[@]}" || die "posterior_peer.py failed"

echo
if [[ -x "$bin" ]]; then
  echo "flowtmpl: ran $bin --data-dir $data_dir --out $data_dir/flowtmpl_results.json" >&2
  "$bin" --data-dir "$data_dir" --out "$data_dir/flowtmpl_results.json" || die "the C++ side ($bin) failed"
  echo "flowtmpl: results in $data_dir/flowtmpl_results.json; sbi's in $data_dir/sbi_results.json (unless --out said otherwise)"
else
  echo "flowtmpl: the C++ side was not found at $bin, not run"
  echo "  build it with:  cmake --build build/release --target posterior_side_by_side"
  echo "  (or point FLOWTMPL_POSTERIOR_BIN at a binary built elsewhere); the data it reads is in $data_dir"
fi
