#!/usr/bin/env bash
# Regenerate test/data/reference/int8 (the references of int8-activations.test):
# HF transformers with every decoder linear layer simulated in torch on the
# int8 weights of a quantc package (int8_activation_reference.py).
#
#   here:       bash scripts/device/make_int8_references.sh build   # -> .int8ref/
#   device:     run(command="bash scripts/device/make_int8_references.sh run",
#                   carry=[".int8ref"])
#   here again: cp <files_at>/*.safetensors test/data/reference/int8/
#
# The packages are built with the same flags as int8-activations.test's
# quant-compile lines; only their weights.safetensors travel.
set -euo pipefail
cd "$(dirname "$0")/../.."
G=.int8ref

# name | model | quant-compile flags | mode | threshold | source reference
REFERENCES=(
  "tiny-llmint8|models/quantc-tiny-llama|--quant=llm-int8|llm-int8|6.0|test/data/reference/quantc-tiny-llama.safetensors"
  "tiny-llmint8-t15|models/quantc-tiny-llama|--quant=llm-int8 --llm-int8-threshold=1.5|llm-int8|1.5|test/data/reference/quantc-tiny-llama.safetensors"
  "tiny-w8a8|models/quantc-tiny-llama|--quant=w8a8|w8a8|0.0|test/data/reference/quantc-tiny-llama.safetensors"
  "qwen2-llmint8|test/data/models/qwen2|--quant=llm-int8 --llm-int8-threshold=1.0|llm-int8|1.0|test/data/reference/qwen2.safetensors"
)

case ${1:-} in
build)
  rm -rf "$G" && mkdir -p "$G"
  for r in "${REFERENCES[@]}"; do
    IFS='|' read -r name model flags _ _ _ <<<"$r"
    # shellcheck disable=SC2086
    build/bin/quant-compile "$model" --dtype=f32 $flags -o "$G/$name.pkg"
    mkdir -p "$G/$name"
    mv "$G/$name.pkg/weights.safetensors" "$G/$name/" && rm -rf "$G/$name.pkg"
  done
  du -sh "$G"
  ;;
run)
  OUT=${OUT:-/tmp/quantc-int8-references}
  mkdir -p "$OUT"
  for r in "${REFERENCES[@]}"; do
    IFS='|' read -r name model _ mode threshold source <<<"$r"
    python3 scripts/device/int8_activation_reference.py "$OUT/$name.safetensors" \
      "$model" "$G/$name" "$mode" "$threshold" "$source"
  done
  ;;
*)
  echo "usage: $0 build|run" >&2
  exit 2
  ;;
esac
