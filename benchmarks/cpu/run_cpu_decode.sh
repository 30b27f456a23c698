#!/usr/bin/env bash
# CPU decode: quantc packages (quant-bench decode) and HF transformers on the
# same machine, side by side.
#
# Build the packages and tools here (portable x86-64-v3 kernels):
#   benchmarks/cpu/run_cpu_decode.sh build [tiny|170m]
# then run, on any x86-64 machine (the peer needs torch + transformers):
#   benchmarks/cpu/run_cpu_decode.sh run
#
# tiny: the default model (models/quantc-tiny-llama), batches 1 and 4.
# 170m: a Llama-shaped model of ~170M parameters (hidden 1024, intermediate
#   2816, 8 layers, 16 heads, vocab 32000), packages compiled --no-weights
#   and filled with random weights at run time (fill_random_weights.py, with
#   or without torch); batch-1 decode at 1, 2, 4, ... up to the physical
#   cores, and a 512-token prefill. The peer runs the same shape with
#   random weights.
# QC_CPU_FORMATS (at build) picks the formats ("f32 f16 awq nf4 int8";
#   awq-float: AWQ with float activations, --cpu-int8-activations=false).
# At run (170m): QC_CPU_THREADS overrides the thread counts tried,
# QC_CPU_PROMPT / QC_CPU_NEW / QC_CPU_REPEAT the decode runs (64 / 32 / 2),
# QC_CPU_PREFILL the long prompt (512; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${QC_CPU_DIR:-.bench}

if [[ "${1:-}" == build ]]; then
  kind=${2:-tiny}
  rm -rf $B && mkdir -p $B/bin
  cp build/bin/quant-bench $B/bin/
  echo "$kind" > $B/kind
  model=models/quantc-tiny-llama flags=""
  if [[ $kind == 170m ]]; then
    model=$B/model flags="--no-weights"
    python3 benchmarks/gpu/make_shape_model.py $model --hidden 1024 \
      --intermediate 2816 --layers 8 --heads 16 --vocab 32000
  fi
  for f in ${QC_CPU_FORMATS:-f32 f16 awq nf4 int8}; do
    case $f in
    f32 | f16) q="--dtype=$f" ;;
    awq-float) q="--quant=awq --cpu-int8-activations=false" ;;
    *) q="--quant=$f" ;;
    esac
    build/bin/quant-compile $model --cpu=x86-64-v3 $q $flags -o $B/$f
  done
  # The peer builds the model from its config (random weights).
  [[ $kind == 170m ]] && rm $B/model/*.safetensors
  git rev-parse HEAD > $B/commit
  du -sh $B
  exit 0
fi

kind=$(cat $B/kind)
echo "commit $(cat $B/commit), $(date -u)"
lscpu | grep -E "Model name|^CPU\(s\)|Thread\(s\) per core" || true
packages=()
for p in $B/*/manifest.json; do packages+=("$(dirname "$p")"); done

if [[ $kind == tiny ]]; then
  for shape in "1 128 64" "4 128 64"; do
    read -r batch prompt new <<<"$shape"
    for pkg in "${packages[@]}"; do
      $B/bin/quant-bench decode $pkg --batch $batch --prompt-len $prompt \
        --new-tokens $new --repeat 3
    done
    for threads in 1 $(nproc); do
      python3 benchmarks/cpu/hf_cpu_decode.py models/quantc-tiny-llama \
        --batch $batch --prompt-len $prompt --new-tokens $new \
        --threads $threads --repeat 3
    done
  done
  exit 0
fi

cores=$(lscpu -p=core,socket | grep -v '^#' | sort -u | wc -l)
threads=${QC_CPU_THREADS:-$(t=1; while ((t < cores)); do echo -n "$t "; t=$((t * 2)); done; echo $cores)}
prompt=${QC_CPU_PROMPT:-64} new=${QC_CPU_NEW:-32} repeat=${QC_CPU_REPEAT:-2}
prefill=${QC_CPU_PREFILL:-512}
for pkg in "${packages[@]}"; do
  python3 benchmarks/gpu/fill_random_weights.py $pkg
  for t in $threads; do
    $B/bin/quant-bench decode $pkg --batch 1 --prompt-len $prompt \
      --new-tokens $new --repeat $repeat --threads $t
  done
  ((prefill)) && $B/bin/quant-bench decode $pkg --batch 1 --prompt-len $prefill \
    --new-tokens 2 --repeat $repeat --threads $cores
  rm $pkg/weights.safetensors
done
if python3 -c 'import torch, transformers' 2>/dev/null; then
  for t in $threads; do
    python3 benchmarks/cpu/hf_cpu_decode.py $B/model --random-init --batch 1 \
      --prompt-len $prompt --new-tokens $new --threads $t --repeat $repeat
  done
  ((prefill)) && python3 benchmarks/cpu/hf_cpu_decode.py $B/model --random-init \
    --batch 1 --prompt-len $prefill --new-tokens 2 --threads $cores --repeat $repeat
fi
