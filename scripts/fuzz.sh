#!/usr/bin/env bash
# Builds the libFuzzer targets (ASan + UBSan, build-san/) and runs each on
# its committed corpus (test/fuzz/corpus/<target>; new inputs go to a
# scratch copy, never into the repo):
#   scripts/fuzz.sh             # 1,000,000 executions per target
#   scripts/fuzz.sh 60          # 60 seconds per target
#   scripts/fuzz.sh 60 tokenizer manifest
#   scripts/fuzz.sh 600 qc-ir   # the qc IR fuzzer (compiler build, build/;
#                               # about 25 executions/s, so give it seconds)
# Exits non-zero on the first target that crashes, leaks, hangs or trips a
# sanitizer (the reproducer is in the printed crash-* file).
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-}
shift || true
TARGETS=(${@:-safetensors model-config manifest tokenizer request-line})

scripts/build-sanitized.sh
fuzzer() { echo "$PWD/build-san/fuzz/fuzz-$1"; }
if [[ " ${TARGETS[*]} " == *" qc-ir "* ]]; then
  cmake -S . -B build -DQC_FUZZ_IR=ON > /dev/null
  cmake --build build --target fuzz-qc-ir
  fuzzer() { [[ $1 == qc-ir ]] && echo "$PWD/build/fuzz/fuzz-qc-ir" || echo "$PWD/build-san/fuzz/fuzz-$1"; }
fi
for t in "${TARGETS[@]}"; do
  work=$(mktemp -d)
  cp test/fuzz/corpus/$t/* "$work/"
  if [[ -n $LIMIT ]]; then budget=(-max_total_time="$LIMIT"); else budget=(-runs=1000000); fi
  echo "fuzz-$t: ${budget[*]}"
  status=0
  log=$(mktemp)
  bin=$(fuzzer "$t")
  maxlen=8192 # the IR seeds are larger
  [[ $t == qc-ir ]] && maxlen=16384
  (cd "$work" && "$bin" "${budget[@]}" -max_len=$maxlen \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 . > "$log" 2>&1) || status=$?
  grep -E "^(Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY|Test unit written)" \
    "$log" || true
  rm -f "$log"
  if ((status != 0)); then
    crash=$(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | head -1)
    [[ -n $crash ]] && cp "$crash" "build-san/fuzz/" && echo "reproducer: build-san/fuzz/$(basename "$crash")"
    rm -rf "$work"
    echo "fuzz-$t failed (exit $status)" >&2
    exit 1
  fi
  rm -rf "$work"
done
