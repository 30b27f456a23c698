#!/usr/bin/env bash
# Builds quantc (setting up on a fresh machine) and runs every test: the lit
# suite (dialect, passes, import, tools) and the gtest suites, through CTest;
# then the sanitized half: the MLIR-free code (readers, quantization
# library, runtime, quant-run, quant-bench) built with ASan + UBSan runs its
# gtests, the lit tests of the runtime and tools with its quant-run and
# quant-bench, and each fuzz target for a few seconds on its corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"

scripts/build-sanitized.sh
ctest --test-dir build-san --output-on-failure -j "$(nproc)"
/usr/lib/llvm-22/bin/lit -q build/test --param runtime_tools="$PWD/build-san/bin" \
  --filter 'Runtime/|Tools/'
scripts/fuzz.sh "${QC_FUZZ_SECONDS:-10}"
