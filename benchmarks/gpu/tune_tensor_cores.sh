#!/usr/bin/env bash
# Kernel shapes of the linear layers side by side: the one-layer 4096-wide
# model of run_gpu_bench.sh (o_proj 4096 x 4096, gate/up 4096 x 14336)
# compiled once per variant, every qc_linear_* kernel timed by ncu at M = 1,
# 16, 64, 256 (QC_TUNE_M).
#
# Build here:  bash benchmarks/gpu/tune_tensor_cores.sh build ["FORMATS"]
#              (f16 (default), awq, nf4, int8; several separated by spaces)
# Run there:   bash benchmarks/gpu/tune_tensor_cores.sh run   (.gtune carried)
# Variants: QC_TUNE_VARIANTS, "name=GPU-OPTIONS" separated by ";" (names
# without "-" or spaces; GPU-OPTIONS as quant-compile --gpu-options takes
# them, e.g. "tensor-core-tile-tokens=64 staged-tile-features=128").
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.gtune
VARIANTS=${QC_TUNE_VARIANTS:-"direct=staged-min-tokens=0;staged=staged-min-tokens=16"}

if [[ "${1:-}" == build ]]; then
  model=$(mktemp -d)
  rm -rf $B && mkdir -p $B/bin
  cp build/bin/quant-run $B/bin/
  python3 benchmarks/gpu/make_shape_model.py $model/linear --hidden 4096 \
    --intermediate 7168 --layers 1 --heads 32 --vocab 32000
  for format in ${2:-f16}; do
    quant=""
    [[ $format == f16 ]] || quant="--quant=$format"
    IFS=';' read -ra variants <<<"$VARIANTS"
    for v in "${variants[@]}"; do
      build/bin/quant-compile $model/linear --target=sm_90a --cpu=x86-64-v3 \
        --no-weights $quant -o "$B/$format-${v%%=*}" --gpu-options "${v#*=}"
      echo "${v#*=}" > "$B/$format-${v%%=*}.options"
    done
  done
  rm -rf $model
  git rev-parse HEAD > $B/commit
  du -sh $B
  exit 0
fi

OUT=${OUT:-$B/out}
mkdir -p $OUT
NCU_BIN=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
NCU="$NCU_BIN --clock-control none --print-units base --csv --metrics gpu__time_duration.sum"
{
  echo "commit $(cat $B/commit), $(date -u)"
  echo "| package (format-variant) | gpu options | kernel | M | us |"
  echo "|---|---|---|---|---|"
  for p in $B/*-*/; do
    p=${p%/}
    python3 benchmarks/gpu/fill_random_weights.py $p > /dev/null
    for m in ${QC_TUNE_M:-1 16 64 256}; do
      QC_CUDA_GRAPHS=0 $NCU -k 'regex:qc_(linear_(mma_|awq_mma_|staged_|wgmma_(wide_)?|columns_(t[0-9]+_)?)?|dequantize_)(4096_4096|14336_4096)' \
        $B/bin/quant-run $p --prompt-ids $(seq -s, 1 $m) --max-new-tokens 1 \
        --ignore-eos 2>/dev/null | python3 -c '
import csv, statistics, sys
rows = [l for l in sys.stdin if l.startswith("\"")]
times = {}
for r in csv.DictReader(rows):
    if r.get("Metric Name") == "gpu__time_duration.sum":
        times.setdefault(r["Kernel Name"], []).append(float(r["Metric Value"].replace(",", "")))
for name, ts in sorted(times.items()):
    print(f"| {sys.argv[1]} | {sys.argv[3]} | {name} | {sys.argv[2]} | {statistics.median(ts) / 1e3:.1f} |")
' "${p##*/}" $m "$(cat $p.options)"
    done
    rm -f $p/weights.safetensors
  done
} | tee $OUT/tune.md
