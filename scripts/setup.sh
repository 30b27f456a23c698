#!/usr/bin/env bash
# Installs every Debian package quantc needs and builds it into build/.
#   scripts/setup.sh            # packages + configure + build
#   QC_SKIP_APT=1 scripts/setup.sh   # build only
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake ninja-build python3
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  nlohmann-json3-dev libgtest-dev libcli11-dev zlib1g-dev libzstd-dev
  libclang-rt-22-dev
  rocm-device-libs
)

if [[ "${QC_SKIP_APT:-0}" != 1 ]]; then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

LLVM=/usr/lib/llvm-22
cmake -S . -B build -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="$LLVM/bin/clang" -DCMAKE_CXX_COMPILER="$LLVM/bin/clang++" \
  -DMLIR_DIR="$LLVM/lib/cmake/mlir" \
  -DLLVM_EXTERNAL_LIT="$LLVM/bin/lit"
cmake --build build
