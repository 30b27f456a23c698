#!/usr/bin/env bash
# GPU check of quantc: GPU packages (sm_90a, H100/H200) run by the MLIR-free
# runtime against HF transformers' references, the CPU backend, themselves
# batched, and themselves with CUDA graphs off.
#
# Build here (needs quant-compile and ptxas; about 3 minutes on 2 cores):
#   bash scripts/device/gpu_check.sh build [BUILD_DIR]      # default: build
# It compiles every package twice (--target=sm_90a and --target=cpu, the
# "-cpu" twin; both --cpu=x86-64-v3 for the host code), packs them with
# BUILD_DIR/bin/{quant-run,quant-bench} into .gpucheck/packages.tar.xz (xz
# stores the twins' weights and the shared float tensors once: ~23 MB for
# ~130 MB of packages) and checks that .gpucheck plus the working tree fit
# the 64 MiB that travel. .gpucheck is git-ignored (.git/info/exclude).
# Then run on the GPU machine, from the repository root, .gpucheck carried:
#   run(command="bash scripts/device/gpu_check.sh run", carry=[".gpucheck"])
# which needs bash, coreutils, tar and xz (or python3), and the driver; no
# MLIR, cmake or network. It writes ${OUT:-.gpucheck}/gpu-check.md (the
# report) and gpu-check.log (every command and its output), prints
# `GPU CHECK: <passed>/<total> passed` and exits non-zero if a case failed.
# QC_GPU_CHECK_TIMEOUT (120) limits each command, in seconds;
# QC_GPU_CHECK_KEEP=1 keeps the scratch folder.
#
# The cases mirror the lit tests, which run the same packages on the CPU:
#  1-2. every quant-run + quant-bench compare pair of hf-reference.test,
#       hf-dequantized-reference.test and int8-activations.test, with the same
#       packages, prompts and limits (read from those files' RUN lines, so
#       they cannot drift apart), except that the int8-activation schemes
#       (LLM.int8, W8A8), which round activations to int8 at run time where
#       a last-bit difference can flip a code, hold every prompt to that
#       test's bound for prompts with a flip (which prompts flip depends on
#       the summation order, and the GPU's is not the CPU's);
#  3.   each of those prompts through the GPU package and its CPU twin
#       (`--target=cpu`, suffix -cpu): logits within 1e-5 relative L2 and 32
#       greedy tokens identical (f32); f16 packages against the CPU's f32
#       package of the same weights within 2e-3 (the criterion of
#       hf-reference.test's f16 cases), the prompt's logits and each decode
#       step's up to a departure of the greedy tokens; the int8-activation
#       schemes with the limits of 1-2: the prompt's logits and the greedy
#       check (tokens equal up to a departure, every decode step of equal
#       context up to it, or the prompt's last row for a departure at the
#       first token, within the step limit);
#  4.   batching.test's served requests (plain, chunked, fewer sequences,
#       preempted), and each batched result equal to the single run;
#  5.   CUDA graphs on vs QC_CUDA_GRAPHS=0: bit-identical logits and tokens;
#  6.   sampling.test's identities (seeds, top-k 1 / tiny top-p / cold
#       temperature = greedy, repetition penalty, served = chunked =
#       preempted) on the GPU sampling kernel, and served tokens = CPU twin.
#
# QC_GPU_CHECK_GPU_OPTIONS (at build) passes --gpu-options to the GPU
# packages, e.g. "staged-min-tokens=16" to run every prompt of 16 tokens or
# more through the kernel staged in shared memory.
#
# Dry run without a GPU: QC_GPU_CHECK_TARGET=cpu makes the "GPU" packages cpu
# packages; every command, parser and the report are exercised the same way.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
G=.gpucheck
LIT=test/Runtime
REF_TESTS="hf-reference.test hf-dequantized-reference.test int8-activations.test"
LIMIT_MB=60

die() { echo "gpu_check: error: $*" >&2; exit 2; }

# The RUN lines of a lit test, without "RUN: ".
lit_runs() {
  grep -q '^RUN: .*\\$' "$1" && die "$1 has continued RUN lines; teach lit_runs"
  sed -n 's/^RUN: //p' "$1"
}

# lit's substitutions for paths in the source tree.
subst_src() { sed -e 's#%models#models#g' -e 's#%testdata#test/data#g' -e "s#%S#$LIT#g"; }

# An inline file (`//--- NAME` section) of a lit test.
split_file() {
  awk -v name="$2" '/^\/\/--- /{on = ($2 == name); next} on' "$1"
}

# ---------------------------------------------------------------- build ----
build() {
  local bd=${1:-build} target=${QC_GPU_CHECK_TARGET:-sm_90a}
  rm -rf "$G" && mkdir -p "$G" || die "cannot make $G"
  local exclude
  if exclude=$(git rev-parse --git-path info/exclude 2>/dev/null); then
    mkdir -p "$(dirname "$exclude")"
    grep -qxF "/$G/" "$exclude" 2>/dev/null || echo "/$G/" >>"$exclude"
  fi
  local stage
  stage=$(mktemp -d "${TMPDIR:-/tmp}/gpucheck-build.XXXXXX") || die "mktemp"
  mkdir -p "$stage/bin" "$stage/.compiler"
  # A snapshot of the tools, so that a relink of BUILD_DIR meanwhile cannot
  # break the build halfway; a missing or unfinished one is waited for.
  local try
  for try in 1 2 3 4 5 6; do
    cp "$bd/bin/quant-compile" "$stage/.compiler/" 2>/dev/null &&
      cp "$bd/bin/quant-run" "$bd/bin/quant-bench" "$stage/bin/" 2>/dev/null &&
      "$stage/.compiler/quant-compile" --help >/dev/null 2>&1 &&
      "$stage/bin/quant-bench" --version >/dev/null 2>&1 &&
      "$stage/bin/quant-run" --version >/dev/null 2>&1 && break
    ((try == 6)) && die "$bd/bin/{quant-compile,quant-run,quant-bench} missing or broken (build them first)"
    echo "$bd/bin: tools missing or being relinked; waiting a minute ($try/5)"
    sleep 60
  done
  local compile=$stage/.compiler/quant-compile
  local cuda=with
  grep -aq QC_CUDA_GRAPHS "$stage/bin/quant-run" || cuda=WITHOUT
  [[ $cuda == WITHOUT && $target != cpu ]] &&
    echo "WARNING: $bd/bin/quant-run has no CUDA backend; rebuild it, then rerun this" >&2

  # The packages of the reference tests, as each test compiles them, plus
  # --target and a portable host CPU (the GPU machine's is not this one).
  local specs=() names=" " tf line
  for tf in $REF_TESTS; do
    while IFS= read -r line; do
      case $line in
      "rm -rf %t && mkdir -p %t" | "quant-run "* | "quant-bench compare "*) ;;
      "quant-compile "*) specs+=("$(subst_src <<<"$line")") ;;
      *) die "$LIT/$tf: unexpected RUN line: $line" ;;
      esac
    done < <(lit_runs "$LIT/$tf")
  done
  ((${#specs[@]})) || die "no quant-compile lines in $REF_TESTS"

  printf 'name\tdtype\tact_int8\tflags\n' >"$G/packages.tsv"
  local failed=() n=0 spec words name flags dtype act start f kind t last
  local -A model_of=()
  local models=()
  for spec in "${specs[@]}"; do
    read -ra words <<<"$spec"
    last=$((${#words[@]} - 1))
    [[ ${words[last - 1]} == -o && ${words[last]} == %t/* ]] || die "cannot parse: $spec"
    name=${words[last]#%t/}
    [[ $names == *" $name "* ]] && die "package $name is compiled twice"
    names+="$name "
    flags=("${words[@]:1:last-2}")
    model_of[$name]=${flags[0]}
    [[ " ${models[*]} " == *" ${flags[0]} "* ]] || models+=("${flags[0]}")
    dtype=auto act=0
    for f in "${flags[@]:1}"; do
      case $f in
      --dtype=*) dtype=${f#--dtype=} ;;
      --quant=llm-int8 | --quant=w8a8) act=1 ;;
      esac
    done
    printf '%s\t%s\t%s\t%s\n' "$name" "$dtype" "$act" "${flags[*]}" >>"$G/packages.tsv"
    n=$((n + 1))
    for kind in gpu cpu; do
      t=$target f=$name
      [[ $kind == cpu ]] && t=cpu f=$name-cpu
      start=$SECONDS
      echo "[$n/${#specs[@]}] quant-compile ${flags[*]} --target=$t --cpu=x86-64-v3 -o $f"
      local options=()
      [[ $kind == gpu && -n ${QC_GPU_CHECK_GPU_OPTIONS:-} ]] &&
        options=(--gpu-options="$QC_GPU_CHECK_GPU_OPTIONS")
      if ! "$compile" "${flags[@]}" --target="$t" --cpu=x86-64-v3 \
        "${options[@]}" -o "$stage/$f"; then
        failed+=("$f")
        rm -rf "${stage:?}/$f"
      fi
      echo "      $((SECONDS - start)) s"
    done
  done

  # Packed with xz -9: a package's CPU twin right after it and the packages
  # of one model together, so that what they share (the twins' weights, the
  # float embeddings) is stored once within xz's 64 MiB window.
  local order=()
  for f in "${models[@]}"; do
    for name in $names; do
      [[ ${model_of[$name]} == "$f" ]] || continue
      [[ -d $stage/$name ]] && order+=("$name")
      [[ -d $stage/$name-cpu ]] && order+=("$name-cpu")
    done
  done
  order+=(bin)

  # The working tree travels too: what is left of the 64 MiB (less 1 MiB of
  # slack), at most $LIMIT_MB MB.
  local tree budget size
  tree=$(git ls-files -co --exclude-standard -z 2>/dev/null | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  budget=$((64 * 1048576 - ${tree:-0} - 1048576))
  ((budget > LIMIT_MB * 1000000)) && budget=$((LIMIT_MB * 1000000))
  : >"$G/dropped-twins.txt"
  while :; do
    echo "packing ${#order[@]} folders ($(du -sh "$stage" | cut -f1)) into $G/packages.tar.xz ..."
    start=$SECONDS
    tar -C "$stage" -cf - "${order[@]}" | xz -9 -T1 >"$G/packages.tar.xz" || die "packing failed"
    size=$(du -sb "$G" | cut -f1)
    echo "      $((SECONDS - start)) s, $G: $size bytes (budget $budget)"
    ((size <= budget)) && break
    # Over: drop the CPU twin of the biggest package left.
    name=$(for f in "${order[@]}"; do
      [[ $f == *-cpu ]] && du -sb "$stage/${f%-cpu}"
    done | sort -rn | awk 'NR == 1 {print $2}')
    [[ -n $name ]] || die "$G is $size bytes even without CPU twins (budget $budget)"
    name=${name##*/}
    echo "over the budget: dropping the CPU twin of $name"
    echo "$name" >>"$G/dropped-twins.txt"
    local kept=()
    for f in "${order[@]}"; do [[ $f != "$name-cpu" ]] && kept+=("$f"); done
    order=("${kept[@]}")
  done
  [[ ${QC_GPU_CHECK_KEEP:-0} == 1 ]] && echo "staging kept: $stage" || rm -rf "$stage"

  {
    echo "built: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "uncommitted: $(git status --porcelain 2>/dev/null | wc -l) changed or untracked files," \
      "diff sha256 $(git diff HEAD 2>/dev/null | sha256sum | cut -c1-16)"
    echo "target: $target"
    echo "gpu options: ${QC_GPU_CHECK_GPU_OPTIONS:-defaults}"
    echo "tools: $bd/bin (quant-run $cuda the CUDA backend)"
    echo "failed: ${failed[*]:-none}"
  } >"$G/BUILD_INFO"
  cat "$G/BUILD_INFO"
  echo "packed: ${order[*]}"
  [[ -s $G/dropped-twins.txt ]] && echo "dropped CPU twins: $(tr '\n' ' ' <"$G/dropped-twins.txt")"
  echo "$G: $(du -sh "$G" | cut -f1) ($size bytes); working tree ${tree:-?} bytes; together" \
    "$(( (size + ${tree:-0}) / 1048576 )) MiB of the 64 MiB that travel"
  if ((${#failed[@]})); then
    echo "FAILED to compile: ${failed[*]}" >&2
    exit 1
  fi
  [[ $cuda == WITHOUT && $target != cpu ]] && exit 1
  echo "next, on the GPU machine: bash scripts/device/gpu_check.sh run  (carry .gpucheck)"
}

# ------------------------------------------------------------------ run ----
# Each case appends a row to $W/rows.tsv: group, name, commands, measured,
# PASS/FAIL/SKIP, seconds.
CASE_START=0
CMDS=()
begin() { CASE_START=$(date +%s.%N); CMDS=(); }
record() {
  local group=$1 name=$2 measured=$3 result=$4 cmds="" c
  for c in "${CMDS[@]}"; do cmds+="${cmds:+<br>}\`${c//|/\\|}\`"; done
  local secs
  secs=$(awk -v a="$CASE_START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$name" "$cmds" "${measured//$'\t'/ }" \
    "$result" "$secs" >>"$W/rows.tsv"
  printf '%-4s %-28s %-34s %s\n' "$result" "$group" "$name" "$measured" | tee -a "$LOG"
}

# Runs a command line (bash, with $W and $K set), logging it and its output
# to the log and its output to $W/last.out; returns its status.
x() {
  CMDS+=("$1")
  echo "\$ $1" >>"$LOG"
  timeout -k 5 "$CASE_TIMEOUT" bash -o pipefail -c "$1" >"$W/last.out" 2>"$W/last.err"
  local rc=$?
  cat "$W/last.out" "$W/last.err" >>"$LOG"
  ((rc)) && echo "[exit status $rc$( ((rc == 124)) && echo ": timed out after $CASE_TIMEOUT s")]" >>"$LOG"
  return $rc
}

# Why the last command failed, in a line.
why() {
  local msg
  msg=$(grep -m1 -i 'error' "$W/last.err" "$W/last.out" 2>/dev/null | cut -d: -f2- | cut -c1-200)
  [[ -z $msg ]] && msg=$(tail -n1 "$W/last.err" | cut -c1-200)
  echo "$1 failed (exit $2)${msg:+: $msg}"
}

# quant-bench compare's verdict on $W/last.out, as "rel L2 X (limit L),
# tokens a/b".
measured() {
  local m="" v
  while read -r v; do m+="${m:+, }$v"; done < <(
    sed -n -e 's/.*: relative L2 \([^ ]*\) (limit \([^)]*\)).*/rel L2 \1 (limit \2)/p' \
      -e 's/.*: \([0-9]*\) of \([0-9]*\) tokens equal, departure: reference margin \([^ ]*\).*/tokens \1\/\2 (departure at a reference margin of \3)/p' \
      -e 's/.*: \([0-9]*\) of \([0-9]*\) tokens equal.*/tokens \1\/\2/p' \
      -e 's/.*(\([0-9]*\) steps of equal context): max relative L2 \([^ ]*\) (limit \([^)]*\)).*/\1 steps: max rel L2 \2 (limit \3)/p' \
      -e "s/.*(the prompt's last row): max relative L2 \([^ ]*\) (limit \([^)]*\)).*/prompt's last row: rel L2 \1 (limit \2)/p" \
      -e 's/.*: \([0-9]* vs [0-9]* elements\): FAIL/\1/p' "$W/last.out")
  echo "${m:-no comparison output}"
}

# One case: commands (quant-run; none may fail), then a quant-bench compare
# whose verdict is the case's: compare_case GROUP NAME COMPARE [RUN...].
compare_case() {
  local group=$1 name=$2 cmpcmd=$3 rc c m
  shift 3
  begin
  for c in "$@"; do
    x "$c"
    rc=$?
    if ((rc)); then
      CMDS+=("$cmpcmd")
      record "$group" "$name" "$(why "${c%% *}" $rc)" FAIL
      return
    fi
  done
  x "$cmpcmd"
  rc=$?
  m=$(measured)
  if ((rc == 0)); then record "$group" "$name" "$m" PASS
  elif ((rc == 1)) && [[ $m != "no comparison output" ]]; then record "$group" "$name" "$m" FAIL
  else record "$group" "$name" "$(why quant-bench $rc)" FAIL
  fi
}

# A check of outputs: runs the commands ($@); the case passes if all exit 0
# and check_fn (evaluated afterwards) prints "PASS <measured>".
check_case() {
  local group=$1 name=$2 check=$3 rc c
  shift 3
  begin
  for c in "$@"; do
    x "$c"
    rc=$?
    if ((rc)); then record "$group" "$name" "$(why "${c%% *}" $rc)" FAIL; return; fi
  done
  local verdict
  ((${#CMDS[@]})) || CMDS=("(check) $check")
  verdict=$(eval "$check" 2>&1)
  echo "check: $check -> $verdict" >>"$LOG"
  case $verdict in
  PASS*) record "$group" "$name" "${verdict#PASS }" PASS ;;
  *) record "$group" "$name" "${verdict#FAIL }" FAIL ;;
  esac
}

pkg_field() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n {print $c}' "$G/packages.tsv"; }
have_pkg() { [[ -f $K/$1/manifest.json ]]; }

# Tokens of a served request ("id") in a quant-run --requests output.
served_tokens() {
  grep -F "\"id\":\"$2\"," "$1" | sed -n 's/.*"tokens":\[\([0-9,]*\)\]}$/\1/p'
}

# batching.test: every expected request line (CHECK-DAG) is in the output,
# and with PREEMPTED, some request was preempted.
check_batched() {
  local out=$1 preempted=${2:-} id toks got ok=0 total=0
  while read -r id toks; do
    total=$((total + 1))
    got=$(served_tokens "$out" "$id")
    [[ $got == "$toks" ]] && grep -F "\"id\":\"$id\"," "$out" | grep -q '"finish_reason":"length"' &&
      ok=$((ok + 1))
  done < <(sed -n 's/^CHECK-DAG: .*"id":"\([^"]*\)".*"tokens":\[\([0-9,]*\)\]}$/\1 \2/p' \
    "$LIT/batching.test")
  local p
  p=$(grep -o '"preemptions":[0-9]*' "$out" | cut -d: -f2 | sort -n | tail -1)
  local m="$ok/$total requests with the expected tokens, max preemptions ${p:-?}"
  if ((total > 0 && ok == total)) && [[ -z $preempted || ${p:-0} -ge 1 ]]; then
    echo "PASS $m"
  else
    echo "FAIL $m${preempted:+ (needs >= 1 preemption)}"
  fi
}

# Each served request's tokens equal the single run of the same prompt (the
# HF-reference case's output for prompt_ids.N of the same reference).
check_batched_vs_single() {
  local out=$1 ref=$2 single=$3 line id ids n ok=0 total=0 found
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    total=$((total + 1))
    id=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' <<<"$line")
    ids=$(sed -n 's/.*"prompt_ids": *\[\([0-9, ]*\)\].*/\1/p' <<<"$line" | tr -d ' ')
    found=""
    for n in 0 1 2 3 4 5 6 7; do
      [[ $(quant-bench ids "$ref" "prompt_ids.$n" 2>/dev/null) == "$ids" ]] && { found=$n; break; }
    done
    [[ -n $found && -f $single.$found.safetensors ]] || continue
    [[ $(served_tokens "$out" "$id") == "$(quant-bench ids "$single.$found.safetensors" tokens)" ]] &&
      ok=$((ok + 1))
  done <"$W/batching/requests.jsonl"
  if ((total > 0 && ok == total)); then echo "PASS $ok/$total requests equal their single run"
  else echo "FAIL $ok/$total requests equal their single run"; fi
}

same() { # same A B: files equal
  if cmp -s "$1" "$2"; then echo "PASS ${1##*/} = ${2##*/}"
  else echo "FAIL ${1##*/} != ${2##*/}: $(diff "$1" "$2" | head -c 160 | tr '\n' ' ')"; fi
}
differ() { # differ A B: files differ
  if cmp -s "$1" "$2"; then echo "FAIL ${1##*/} = ${2##*/} (must differ)"
  else echo "PASS ${1##*/} != ${2##*/}"; fi
}
all_pass() { # all_pass CHECK...: PASS if every check passes
  local c v m=""
  for c in "$@"; do
    v=$(eval "$c")
    [[ $v == PASS* ]] || { echo "FAIL ${v#FAIL }"; return; }
    m+="${m:+; }${v#PASS }"
  done
  echo "PASS $m"
}
tokens_equal() { # tokens_equal FILE EXPECTED_CSV
  if [[ $(cat "$1") == "$2" ]]; then echo "PASS $(tr , '\n' <"$1" | wc -l) tokens as expected"
  else echo "FAIL ${1##*/}: $(head -c 100 "$1")... (expected $(cut -c1-40 <<<"$2")...)"; fi
}
tokens32() { # sampling.test's TOKENS32: one line of 32 ids
  if grep -qxE '([0-9]+,){31}[0-9]+' "$1"; then echo "PASS ${1##*/}: 32 tokens"
  else echo "FAIL ${1##*/}: not 32 tokens"; fi
}
distinct_tokens() { # no repeated id, none of the prompt's
  local dup
  dup=$(sort "$1" | uniq -d | head -3 | tr '\n' ' ')
  if ! [[ -s $1 ]]; then echo "FAIL ${1##*/} is empty"
  elif [[ -n $dup ]]; then echo "FAIL ${1##*/} repeats $dup"
  elif grep -qxE '1|704|1052|1718|1614|786' "$1"; then echo "FAIL ${1##*/} has a prompt token"
  else echo "PASS $(wc -l <"$1") distinct new tokens"; fi
}
has_preemption() {
  local p
  p=$(grep -o '"preemptions":[0-9]*' "$1" | cut -d: -f2 | sort -n | tail -1)
  if ((${p:-0} >= 1)); then echo "PASS ${1##*/}: max preemptions $p"
  else echo "FAIL ${1##*/}: no request was preempted"; fi
}
# sampling.test's served lines: the same after dropping "preemptions" and
# sorting, whether chunked or preempted; a "seed" fixes a line's stream.
sampling_served() {
  local s=$W/sampling f r
  for f in served chunked preempted; do
    sed 's/"preemptions":[0-9]*//' "$s/$f" | sort >"$s/$f.sorted"
  done
  for r in seeded-a seeded-b unseeded-a unseeded-b top-k-1 greedy; do
    grep "\"id\":\"$r\"" "$s/served" | sed 's/.*"tokens"://' >"$s/line-$r"
  done
  local greedy
  greedy=$(sed -n 's/^SERVED: //p' "$LIT/sampling.test")
  all_pass "same $s/served.sorted $s/chunked.sorted" "same $s/served.sorted $s/preempted.sorted" \
    "has_preemption $s/preempted" "same $s/line-seeded-a $s/line-seeded-b" \
    "differ $s/line-unseeded-a $s/line-unseeded-b" "same $s/line-top-k-1 $s/line-greedy" \
    "grep -qF '$greedy' $s/served.sorted && echo PASS greedy line || echo FAIL no greedy line"
}
same_served() {
  [[ -s $1 ]] || { echo "FAIL no GPU output (${1##*/})"; return; }
  sed 's/"preemptions":[0-9]*//' "$1" | sort >"$1.sorted"
  sed 's/"preemptions":[0-9]*//' "$2" | sort >"$2.sorted"
  same "$1.sorted" "$2.sorted"
}

run() {
  [[ -f $G/BUILD_INFO ]] || die "$G/BUILD_INFO missing: run '$0 build' here first and carry $G"
  local outdir=${OUT:-$G}
  mkdir -p "$outdir" || die "cannot make $outdir"
  REPORT=$outdir/gpu-check.md
  LOG=$outdir/gpu-check.log
  CASE_TIMEOUT=${QC_GPU_CHECK_TIMEOUT:-120}
  W=$(mktemp -d "${TMPDIR:-/tmp}/gpucheck.XXXXXX") || die "mktemp"
  export W G
  local graphs_env=${QC_CUDA_GRAPHS-unset}
  unset QC_CUDA_GRAPHS
  : >"$LOG"
  : >"$W/rows.tsv"
  local t0=$SECONDS
  local target
  target=$(sed -n 's/^target: //p' "$G/BUILD_INFO")

  # The packages and tools, unpacked into $K (.gpucheck stays as carried).
  K=$W/pkg
  export K
  mkdir -p "$K"
  if command -v xz >/dev/null; then
    xz -dc "$G/packages.tar.xz" | tar -xf - -C "$K"
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
      "$G/packages.tar.xz" "$K"
  fi || die "cannot unpack $G/packages.tar.xz"
  export PATH="$K/bin:$PATH"
  local pkgtargets
  pkgtargets=$(cat "$K"/*/manifest.json | sed -n 's/^ *"target": "\(.*\)",*$/\1/p' | sort | uniq -c |
    awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')

  {
    echo "=== $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n)"
    nvidia-smi 2>&1 | head -20 || echo "nvidia-smi: not found"
    echo "=== BUILD_INFO"
    cat "$G/BUILD_INFO"
  } >>"$LOG"

  # 1-2. The reference tests' quant-run + compare pairs, as written there.
  local tf line group pending="" pkg out cases=()
  local act_bound
  for tf in $REF_TESTS; do
    case $tf in
    hf-reference.test) group="1 HF reference" ;;
    hf-dequantized-reference.test) group="2 quantized vs HF (dequant)" ;;
    int8-activations.test) group="2 int8 activations vs HF" ;;
    esac
    # int8-activations.test holds the prompts that do not flip an int8 code
    # on the CPU to 1e-5 and every prompt to its largest limit (the scheme's
    # bound). Which prompt flips depends on the summation order, and the
    # GPU's (tree reductions, tensor cores) is not the CPU's: here every
    # prompt is held to that bound, and a departure of the greedy tokens at
    # a near-tie, also at the first token, to the step limit.
    act_bound=""
    [[ $tf == int8-activations.test ]] && act_bound=$(lit_runs "$LIT/$tf" |
      sed -n 's/.*--logits prompt_logits:[^ ]* --max-rel-l2 \([^ ]*\).*/\1/p' | sort -g | tail -1)
    while IFS= read -r line; do
      line=$(subst_src <<<"$line")
      case $line in
      "rm -rf %t && mkdir -p %t" | "quant-compile "*) ;;
      "quant-run "*)
        [[ -n $pending ]] && die "$tf: two quant-run lines without a compare"
        pending=$(sed -e 's# > /dev/null$##' -e 's#^quant-run %t/#quant-run $K/#' \
          -e 's#%t/#$W/#g' <<<"$line")
        ;;
      "quant-bench compare "*)
        [[ -n $pending ]] || die "$tf: a compare without a quant-run: $line"
        line=$(sed -e 's# | FileCheck.*$##' -e 's#%t/#$W/#g' <<<"$line")
        [[ -n $act_bound ]] &&
          line=$(sed "s#\(--logits prompt_logits:[^ ]* --max-rel-l2\) [^ ]*#\1 $act_bound#" <<<"$line")
        read -r _ pkg _ <<<"$pending"
        pkg=${pkg#\$K/}
        read -r _ _ out _ <<<"$line"
        [[ $pending == *"--logits-out $out"* ]] || die "$tf: compare of another file: $line"
        out=${out#\$W/}
        out=${out%.safetensors}
        if have_pkg "$pkg"; then
          compare_case "$group" "$out" "$line" "$pending"
        else
          begin; CMDS=("$pending" "$line")
          record "$group" "$out" "package $pkg was not built" FAIL
        fi
        cases+=("$pkg"$'\t'"$out"$'\t'"$pending"$'\t'"$line")
        pending=""
        ;;
      *) die "$tf: unexpected RUN line: $line" ;;
      esac
    done < <(lit_runs "$LIT/$tf")
  done

  # 3. Each of those prompts through the GPU package and its CPU twin, 32
  # greedy tokens (the GPU output of 1-2 where it ran so; fp16 reruns).
  local c norm runs cmp limit tokens dtype act gpuout twin
  group="3 GPU vs CPU backend"
  for c in "${cases[@]}"; do
    IFS=$'\t' read -r pkg out pending line <<<"$c"
    dtype=$(pkg_field "$pkg" 2)
    act=$(pkg_field "$pkg" 3)
    # An f16 package is compared with the CPU's f32 package of the same
    # weights (fp16: the default model's), the truth both f16 backends
    # approximate (see the limits below).
    twin=$pkg
    if [[ $dtype == f16 ]]; then
      twin=${pkg%-f16}
      [[ $pkg == fp16 ]] && twin=quantc-tiny-llama
    fi
    if ! [[ -d $K/$twin-cpu ]]; then
      begin
      if grep -qxF "$twin" "$G/dropped-twins.txt" 2>/dev/null; then
        record "$group" "$out" "CPU twin dropped to fit the transfer limit" SKIP
      else
        record "$group" "$out" "CPU twin $twin-cpu was not built" FAIL
      fi
      continue
    fi
    norm=$(sed -e 's#--max-new-tokens [0-9]*#--max-new-tokens 32#' <<<"$pending")
    [[ $norm == *" --ignore-eos "* ]] || norm=${norm/ --logits-out / --ignore-eos --logits-out }
    runs=()
    gpuout="\$W/$out.safetensors"
    if [[ $norm != "$pending" ]]; then
      gpuout="\$W/$out.gpu32.safetensors"
      runs+=("$(sed "s#--logits-out [^ ]*#--logits-out $gpuout#" <<<"$norm")")
    elif ! [[ -f $W/$out.safetensors ]]; then
      begin
      record "$group" "$out" "no GPU output: its run in group 1/2 failed" FAIL
      continue
    fi
    runs+=("$(sed -e "s#^quant-run [^ ]*#quant-run \$K/$twin-cpu#" \
      -e "s#--logits-out [^ ]*#--logits-out \$W/$out.cpu.safetensors#" <<<"$norm")")
    if ((act)); then
      limit=$(sed -n 's/.*--logits prompt_logits:[^ ]* --max-rel-l2 \([^ ]*\).*/\1/p' <<<"$line")
      tokens=$(sed -n 's/.*--step-logits [^ ]* --max-rel-l2 \([^ ]*\).*/\1/p' <<<"$line")
      [[ -n $tokens ]] || die "$line: no --greedy check"
      tokens=" --greedy tokens:tokens --step-logits decode_logits:decode_logits --max-rel-l2 $tokens"
    elif [[ $dtype == f32 ]]; then
      limit=1e-5 tokens=" --tokens tokens:tokens"
    else
      # f16 packages round every layer's output to f16; hf-reference.test
      # holds them to the f32 logits (2e-3, twice HF's own f16-vs-f32
      # error), and so does this against the CPU's f32 package: the prompt
      # and every decode step of equal context up to a departure (a
      # near-tie of a long greedy continuation: the greedy rule of the
      # int8-activation schemes). Two f16 backends are each that close to
      # the truth, not to each other.
      limit=2e-3
      tokens=" --greedy tokens:tokens --step-logits decode_logits:decode_logits --max-rel-l2 2e-3"
    fi
    cmp="quant-bench compare $gpuout \$W/$out.cpu.safetensors --logits prompt_logits:prompt_logits --max-rel-l2 $limit$tokens"
    compare_case "$group" "$out" "$cmp" "${runs[@]}"
  done

  # 4. batching.test with the GPU package (its package is the default model
  # with --dtype=f32: hf-reference.test's quantc-tiny-llama).
  local P='$K/quantc-tiny-llama' B='$W/batching'
  mkdir -p "$W/batching" "$W/sampling" "$W/graphs"
  split_file "$LIT/batching.test" requests.jsonl >"$W/batching/requests.jsonl"
  group="4 batching"
  check_case "$group" "served" "check_batched $W/batching/served" \
    "quant-run $P --requests $B/requests.jsonl > $B/served"
  check_case "$group" "--max-batch-tokens 8" "check_batched $W/batching/chunked" \
    "quant-run $P --requests $B/requests.jsonl --max-batch-tokens 8 > $B/chunked"
  check_case "$group" "--max-batch-sequences 2" "check_batched $W/batching/seqs2" \
    "quant-run $P --requests $B/requests.jsonl --max-batch-sequences 2 > $B/seqs2"
  check_case "$group" "--kv-blocks 7 (preempted)" "check_batched $W/batching/preempted preempted" \
    "quant-run $P --requests $B/requests.jsonl --kv-blocks 7 > $B/preempted"
  check_case "$group" "batched = single runs" \
    "check_batched_vs_single $W/batching/served test/data/reference/quantc-tiny-llama.safetensors $W/quantc-tiny-llama"

  # 5. CUDA graphs on (the default) vs off: bit-identical.
  group="5 CUDA graphs on vs off"
  local R=test/data/reference/quantc-tiny-llama.safetensors F='$K/fp16' GR='$W/graphs'
  compare_case "$group" "fp16 prompt 3, 32 tokens" \
    "quant-bench compare $GR/on.safetensors $GR/off.safetensors --logits prompt_logits:prompt_logits --max-rel-l2 0 --tokens tokens:tokens" \
    "quant-run $F --prompt-ids \$(quant-bench ids $R prompt_ids.3) --max-new-tokens 32 --ignore-eos --logits-out $GR/on.safetensors" \
    "QC_CUDA_GRAPHS=0 quant-run $F --prompt-ids \$(quant-bench ids $R prompt_ids.3) --max-new-tokens 32 --ignore-eos --logits-out $GR/off.safetensors"
  check_case "$group" "fp16 served batch (4 requests)" "same $W/graphs/served-on $W/graphs/served-off" \
    "quant-run $F --requests $B/requests.jsonl > $GR/served-on" \
    "QC_CUDA_GRAPHS=0 quant-run $F --requests $B/requests.jsonl > $GR/served-off"

  # 6. sampling.test's identities, on the GPU package's sampling kernel.
  group="6 sampling"
  local S='$W/sampling' s=$W/sampling IDS=1,704,1052,1718,1614,786
  split_file "$LIT/sampling.test" requests.jsonl >"$W/sampling/requests.jsonl"
  check_case "$group" "greedy" "tokens_equal $s/greedy $(sed -n 's/^GREEDY: //p' "$LIT/sampling.test")" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --greedy > $S/greedy"
  check_case "$group" "equal seeds, equal tokens" \
    "all_pass 'same $s/seed1 $s/seed1-again' 'differ $s/seed1 $s/seed2' 'differ $s/seed1 $s/greedy' 'tokens32 $s/seed1' 'tokens32 $s/seed2'" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --temperature 1.0 --seed 1 > $S/seed1" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --temperature 1.0 --seed 1 > $S/seed1-again" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --temperature 1.0 --seed 2 > $S/seed2"
  check_case "$group" "top-k 1 = greedy" "same $s/greedy $s/topk1" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --top-k 1 --seed 3 > $S/topk1"
  check_case "$group" "top-p 1e-6 = greedy" "same $s/greedy $s/topp" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --top-p 0.000001 --seed 3 > $S/topp"
  check_case "$group" "--greedy overrides sampling" "same $s/greedy $s/forced" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --temperature 1.0 --top-k 40 --greedy > $S/forced"
  check_case "$group" "temperature 1e-5 = greedy" "same $s/greedy $s/cold" \
    "quant-run $P --prompt-ids $IDS --ignore-eos --temperature 1e-5 --seed 4 > $S/cold"
  local text="the cat sat on the mat. the cat sat on the mat. the cat sat on the mat."
  check_case "$group" "repetition penalty" \
    "all_pass 'differ $s/repeat-greedy $s/repeat-penalized' 'distinct_tokens $s/distinct'" \
    "quant-run $P --prompt \"$text\" --ignore-eos --greedy > $S/repeat-greedy" \
    "quant-run $P --prompt \"$text\" --ignore-eos --top-k 1 --repetition-penalty 1.3 > $S/repeat-penalized" \
    "quant-run $P --prompt-ids 1,704,1052,1718,1614,786,704,1052,1718,1614,786 --ignore-eos --max-new-tokens 64 --top-k 1 --repetition-penalty 1000 | tr , '\\n' > $S/distinct"
  check_case "$group" "served = chunked = preempted" "sampling_served" \
    "quant-run $P --requests $S/requests.jsonl --seed 5 > $S/served" \
    "quant-run $P --requests $S/requests.jsonl --seed 5 --max-batch-tokens 8 > $S/chunked" \
    "quant-run $P --requests $S/requests.jsonl --seed 5 --kv-blocks 6 > $S/preempted"
  if [[ -d $K/quantc-tiny-llama-cpu ]]; then
    check_case "$group" "served: GPU = CPU twin" "same_served $s/served $s/served-cpu" \
      "quant-run \$K/quantc-tiny-llama-cpu --requests $S/requests.jsonl --seed 5 > $S/served-cpu"
  fi

  # The report.
  local passed failed skipped total
  passed=$(awk -F'\t' '$5 == "PASS"' "$W/rows.tsv" | wc -l)
  failed=$(awk -F'\t' '$5 == "FAIL"' "$W/rows.tsv" | wc -l)
  skipped=$(awk -F'\t' '$5 == "SKIP"' "$W/rows.tsv" | wc -l)
  total=$((passed + failed))
  local commit
  # The packages' commit: the GPU machine's copy of .git can be older than
  # the working tree it is sent with.
  commit="$(sed -n 's/^commit: //p' "$G/BUILD_INFO") (packages built from it)"
  {
    echo "# quantc GPU check"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- GPU: $(command -v nvidia-smi >/dev/null &&
      nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | paste -sd ';' - ||
      echo "none (no nvidia-smi)")"
    echo "- commit: $commit"
    echo "- packages: built $(sed -n 's/^built: //p' "$G/BUILD_INFO") for $target (manifests: $pkgtargets), GPU options: $(sed -n 's/^gpu options: //p' "$G/BUILD_INFO"); at build: $(sed -n 's/^uncommitted: //p' "$G/BUILD_INFO")"
    echo "- not compiled at build: $(sed -n 's/^failed: //p' "$G/BUILD_INFO"); $(sed -n 's/^tools: //p' "$G/BUILD_INFO")"
    [[ $target == cpu ]] && echo "- **DRY RUN**: the \"GPU\" packages are cpu packages (QC_GPU_CHECK_TARGET=cpu)"
    echo "- host: $(uname -n), $(nproc) CPUs; QC_CUDA_GRAPHS in the environment: $graphs_env (unset for the cases)"
    echo "- wall time: $((SECONDS - t0)) s; log: gpu-check.log; \$W = scratch folder, \$K = \$W/pkg: the packages and tools of .gpucheck/packages.tar.xz"
    echo
    echo "**GPU CHECK: $passed/$total passed**$( ((skipped)) && echo " ($skipped skipped)")"
    echo
    echo "| group | passed | failed | skipped |"
    echo "|---|---|---|---|"
    awk -F'\t' '!($1 in n) {order[++k] = $1; n[$1] = 1}
      {c[$1, $5]++}
      END {for (i = 1; i <= k; i++) {g = order[i]
        printf "| %s | %d | %d | %d |\n", g, c[g, "PASS"], c[g, "FAIL"], c[g, "SKIP"]}}' "$W/rows.tsv"
    echo
    echo "| # | group | case | measured | result | s | commands |"
    echo "|---|---|---|---|---|---|---|"
    awk -F'\t' '{printf "| %d | %s | %s | %s | %s | %s | %s |\n", NR, $1, $2, $4, ($5 == "PASS" ? "PASS" : "**" $5 "**"), $6, $3}' "$W/rows.tsv"
  } >"$REPORT"
  [[ ${QC_GPU_CHECK_KEEP:-0} == 1 ]] && echo "scratch kept: $W" || rm -rf "$W"
  echo "report: $REPORT"
  echo "GPU CHECK: $passed/$total passed$( ((skipped)) && echo " ($skipped skipped)")"
  ((failed == 0 && total > 0))
}

case ${1:-} in
build) shift; build "$@" ;;
run) run ;;
*) echo "usage: $0 build [BUILD_DIR] | run" >&2; exit 2 ;;
esac
