#!/usr/bin/env bash
# Make quantc's model fixtures on a CUDA machine: trains the embedded default model
# (models/quantc-tiny-llama), makes the random test models (test/data/models) and
# writes the Hugging Face reference outputs (test/data/reference), then tars all of
# it into $OUT/models.tar.
#
# Run on the device machine from the repository root, with the corpus carried
# (make it first here with `bash models/collect_corpus.sh`):
#     run(command="set -o pipefail; bash scripts/device/make_models.sh 2>&1 | tee $OUT/log.txt",
#         carry=["models/corpus"])
# then, here:  tar xf <files_at>/models.tar   (from the repository root)
#
# Needs python3 with torch (CUDA), transformers >= 5, tokenizers and safetensors.
# Every stage runs even if an earlier one failed (so one call returns as much as it
# can); the exit status is non-zero if any stage failed. STAGES (below) reruns a subset.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
OUT=${OUT:-/tmp/quantc-make-models}
mkdir -p "$OUT"
status=0
stage() {
    local name=$1; shift
    echo "=== $name: $* ($(date -u +%T))"
    local t=$SECONDS
    "$@" || { echo "=== $name FAILED (rc $?)"; status=1; }
    echo "=== $name took $((SECONDS - t)) s"
}

nvidia-smi -L || true
python3 -c 'import sys, torch, transformers, tokenizers, safetensors; print(sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__, "safetensors", safetensors.__version__, "cuda", torch.cuda.is_available())'
test -f models/corpus/SUMMARY.txt || { echo "models/corpus missing: carry it"; status=1; }

# Order: the quick stages first, so that a failure in training loses nothing else.
# STAGES picks a subset for a rerun, e.g. STAGES="train ref-default".
STAGES=${STAGES:-"random ref-random train ref-default"}
for st in $STAGES; do
    case $st in
    random) stage random python3 models/make_random_models.py --out test/data/models ;;
    ref-random) stage ref-random python3 models/make_reference.py --default /nonexistent \
            --random test/data/models --out test/data/reference ;;
    train) stage train python3 models/train_tiny_llama.py --corpus models/corpus \
            --out models/quantc-tiny-llama ;;
    ref-default) stage ref-default python3 models/make_reference.py \
            --default models/quantc-tiny-llama --random /nonexistent --out test/data/reference ;;
    *) echo "unknown stage $st"; status=1 ;;
    esac
done

du -sh models/quantc-tiny-llama test/data/models test/data/reference 2>/dev/null
paths=()
for d in models/quantc-tiny-llama test/data/models test/data/reference; do
    [ -d "$d" ] && paths+=("$d")
done
[ ${#paths[@]} -gt 0 ] && tar cf "$OUT/models.tar" "${paths[@]}" && ls -l "$OUT"
echo "=== done, status $status"
exit $status
