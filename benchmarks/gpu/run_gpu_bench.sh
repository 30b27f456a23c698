#!/usr/bin/env bash
# quantc on the GPU beside its peers, in one run:
#   * linear kernels (fp16, AWQ int4, NF4, int8 weight-only) at M = 1, 16,
#     64, 256 for K x N = 4096 x 4096 and 4096 x 14336, against cuBLAS fp16
#     (torch.matmul) and torch's int4 kernel (_weight_int4pack_mm); every
#     kernel timed by ncu with cold caches;
#   * decode tokens/s of a Llama-2-7B-shaped model (random weights) against
#     a torch model with a static KV cache in a CUDA graph (cuBLAS fp16 and
#     torch's int4 kernel; torch_graph_decode.py) and HF transformers
#     generate.
#
# Build here (packages without weights, from sparse shape-only checkpoints):
#   bash benchmarks/gpu/run_gpu_bench.sh build
# Run on the GPU machine (.gbench carried), results in $OUT:
#   bash benchmarks/gpu/run_gpu_bench.sh run
# QC_BENCH_PARTS="linear" or "7b" and QC_BENCH_FORMATS="f16 int8" (at
# build) limit both to those parts and formats (small enough to travel
# beside the GPU check's packages); "7b step" adds a per-kernel breakdown
# of one batch-1 decode step of each format (step_breakdown.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${QC_BENCH_DIR:-.gbench}
FORMATS=(${QC_BENCH_FORMATS:-f16 awq nf4 int8})
TARGET=${QC_BENCH_TARGET:-sm_90a}
PARTS=${QC_BENCH_PARTS:-linear 7b}

quant_flags() { [[ $1 == f16 ]] || echo "--quant=$1"; }

if [[ "${1:-}" == build ]]; then
  SHAPES=$(mktemp -d)
  rm -rf $B && mkdir -p $B/bin
  cp build/bin/quant-run build/bin/quant-bench $B/bin/
  # One layer whose fused gate/up is exactly 4096 x 14336 and o_proj
  # 4096 x 4096; and Llama-2-7B.
  python3 benchmarks/gpu/make_shape_model.py $SHAPES/linear --hidden 4096 \
    --intermediate 7168 --layers 1 --heads 32 --vocab 32000
  python3 benchmarks/gpu/make_shape_model.py $SHAPES/7b --hidden 4096 \
    --intermediate 11008 --layers 32 --heads 32 --vocab 32000
  cp $SHAPES/7b/config.json $B/7b-config.json
  echo "$PARTS" > $B/parts
  echo "${FORMATS[*]}" > $B/formats
  for f in "${FORMATS[@]}"; do
    for m in $PARTS; do
      [[ $m == step ]] && continue
      build/bin/quant-compile $SHAPES/$m --target=$TARGET --cpu=x86-64-v3 \
        --no-weights $(quant_flags $f) -o $B/$m-$f
    done
  done
  rm -rf $SHAPES
  git rev-parse HEAD > $B/commit
  du -sh $B
  exit 0
fi

# QC_BENCH_DIR (default .gbench) holds the packages, at build and run;
# at run, QC_BENCH_BATCHES ("1 16") sets the decode batches and
# QC_BENCH_HF=0 skips HF generate.
# Every measurement is attempted even if one fails; raw ncu files go to
# $RAW, the tables and a tarball of $RAW to $OUT.
set +e
OUT=${OUT:-$B/out}
RAW=$B/raw
mkdir -p $OUT $RAW
{
  echo "commit $(cat $B/commit), $(date -u)"
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
} | tee $OUT/machine.txt
NCU_BIN=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
NCU="$NCU_BIN --clock-control none --print-units base --csv --metrics gpu__time_duration.sum"

FORMATS=($(cat $B/formats))
has_part() { [[ " $(cat $B/parts) " == *" $1 "* ]]; }

# Linear kernels.
has_part linear && for f in "${FORMATS[@]}"; do
  python3 benchmarks/gpu/fill_random_weights.py $B/linear-$f
  for m in 1 16 64 256; do
    ids=$(seq -s, 1 $m)
    QC_CUDA_GRAPHS=0 $NCU -k 'regex:qc_(linear_(mma_|awq_mma_|staged_|wgmma_(wide_)?|columns_(t[0-9]+_)?)?|dequantize_)(4096_4096|14336_4096)' \
      $B/bin/quant-run $B/linear-$f --prompt-ids $ids --max-new-tokens 1 \
      --ignore-eos > $RAW/ours_${f}_M$m.csv 2>> $RAW/errors.txt
  done
done
if has_part linear; then
  $NCU --nvtx --print-nvtx-rename kernel python3 benchmarks/gpu/torch_linear_peers.py \
    > $RAW/torch.csv 2>> $RAW/errors.txt
  python3 benchmarks/gpu/summarize.py $RAW | tee $OUT/linear.md
fi

# 7B-shaped decode.
has_part 7b || { tar -czf $OUT/raw.tar.gz -C $B raw; exit 0; }
for f in "${FORMATS[@]}"; do
  python3 benchmarks/gpu/fill_random_weights.py $B/7b-$f
  for batch in ${QC_BENCH_BATCHES:-1 16}; do
    $B/bin/quant-bench decode $B/7b-$f --batch $batch --prompt-len 128 \
      --new-tokens 32 --repeat 2 | tee -a $OUT/decode.txt
  done
  if has_part step; then
    # Every kernel of a 16-token prompt and one decode step, timed alone.
    QC_CUDA_GRAPHS=0 $NCU_BIN --clock-control none --print-units base --csv \
      --metrics gpu__time_duration.sum,dram__bytes.sum \
      $B/bin/quant-run $B/7b-$f --prompt-ids $(seq -s, 1 16) \
      --max-new-tokens 2 --ignore-eos > $RAW/step_$f.csv 2>> $RAW/errors.txt
    python3 benchmarks/gpu/step_breakdown.py $RAW/step_$f.csv 32 "7B-shaped $f" \
      | tee -a $OUT/step.md
  fi
  rm $B/7b-$f/weights.safetensors
done
mkdir -p $B/7b-hf && cp $B/7b-config.json $B/7b-hf/config.json
for batch in ${QC_BENCH_BATCHES:-1 16}; do
  for w in f16 int4; do
    python3 benchmarks/gpu/torch_graph_decode.py $B/7b-hf --batch $batch \
      --prompt-len 128 --new-tokens 32 --weights $w | tee -a $OUT/decode.txt
  done
  [[ ${QC_BENCH_HF:-1} == 0 ]] ||
    python3 benchmarks/gpu/hf_generate.py $B/7b-hf --batch $batch --prompt-len 128 \
      --new-tokens 32 | tee -a $OUT/decode.txt
done
tar -czf $OUT/raw.tar.gz -C $B raw
