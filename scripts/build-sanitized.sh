#!/usr/bin/env bash
# Builds the MLIR-free half of quantc (readers, quantization library,
# runtime, quant-run, quant-bench, gtests, fuzz targets) with ASan + UBSan
# into build-san/ (scripts/setup.sh installs the packages it needs).
set -euo pipefail
cd "$(dirname "$0")/.."
LLVM=/usr/lib/llvm-22
cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -g" -DCMAKE_C_FLAGS="-O1 -g" \
  -DCMAKE_C_COMPILER="$LLVM/bin/clang" -DCMAKE_CXX_COMPILER="$LLVM/bin/clang++" \
  -DQC_BUILD_COMPILER=OFF -DQC_SANITIZE=ON -DQC_FUZZ=ON > /dev/null
cmake --build build-san
