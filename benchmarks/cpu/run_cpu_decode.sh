#!/usr/bin/env bash
# CPU decode of the default model: quantc packages (quant-bench decode) and
# HF transformers on the same machine, side by side.
#
# Build the packages and tools here (portable x86-64-v3 kernels):
#   benchmarks/cpu/run_cpu_decode.sh build
# then run, on any x86-64 machine with torch + transformers (the device):
#   benchmarks/cpu/run_cpu_decode.sh run
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.bench
MODEL=models/quantc-tiny-llama
SHAPES=("1 128 64" "4 128 64")

if [[ "${1:-}" == build ]]; then
  rm -rf $B && mkdir -p $B/bin
  cp build/bin/quant-bench $B/bin/
  build/bin/quant-compile $MODEL --cpu=x86-64-v3 --dtype=f32 -o $B/f32
  build/bin/quant-compile $MODEL --cpu=x86-64-v3 -o $B/f16
  build/bin/quant-compile $MODEL --cpu=x86-64-v3 --quant=awq -o $B/awq
  build/bin/quant-compile $MODEL --cpu=x86-64-v3 --quant=nf4 -o $B/nf4
  build/bin/quant-compile $MODEL --cpu=x86-64-v3 --quant=int8 -o $B/int8
  exit 0
fi

lscpu | grep -E "Model name|^CPU\(s\)" || true
for shape in "${SHAPES[@]}"; do
  read -r batch prompt new <<<"$shape"
  for pkg in f32 f16 awq nf4 int8; do
    $B/bin/quant-bench decode $B/$pkg --batch $batch --prompt-len $prompt \
      --new-tokens $new --repeat 3
  done
  for threads in 1 $(nproc); do
    python3 benchmarks/cpu/hf_cpu_decode.py $MODEL --batch $batch \
      --prompt-len $prompt --new-tokens $new --threads $threads --repeat 3
  done
done
