#!/usr/bin/env bash
# Installs what flowtmpl's build, tests, examples and benchmarks need, from Debian's
# packages. Does nothing when everything is already installed.
set -euo pipefail
packages=(g++ cmake ninja-build libeigen3-dev libboost-dev catch2 libbenchmark-dev nlohmann-json3-dev libstb-dev
          clang-19 libomp-19-dev libclang-rt-19-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "flowtmpl: dependencies already installed"
  exit 0
fi
echo "flowtmpl: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
