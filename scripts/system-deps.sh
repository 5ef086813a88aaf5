#!/usr/bin/env bash
# System packages the Python install needs: cmake and OpenBLAS headers to compile dlib with BLAS.
set -euo pipefail
missing=()
command -v cmake >/dev/null || missing+=(cmake)
[[ -e /usr/include/x86_64-linux-gnu/cblas.h || -e /usr/include/cblas.h || -e /usr/include/openblas/cblas.h ]] \
  || dpkg -s libopenblas-dev >/dev/null 2>&1 || missing+=(libopenblas-dev liblapack-dev)
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "facesift needs: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
