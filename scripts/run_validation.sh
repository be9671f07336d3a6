#!/usr/bin/env bash
# The main job: set up where needed, build, run every suite this machine can run, and write the report.
#   GPU present: kernel accuracy on CUDA, kernel speed, the five model suites at full sizes, memory and leak
#   checks, model throughput and memory.  No GPU: kernel accuracy on the exact CPU emulations and the five model
#   suites at CPU sizes; the report says which sections were skipped and why.
# Options:
#   --model DIR               model folder (default: the bundled data/models/sageval-byte-llama)
#   --data DIR                data folder with wikitext-2-raw/ and ptb/ (default: $SAGEVAL_DATA_DIR, else ../shared/data)
#   --attention-backend NAME  candidate backend (default sage_int8); the baseline is fp16 (SAGEVAL_BASELINE)
#   --quick                   smaller sizes everywhere (minutes instead of tens of minutes)
#   --report-dir DIR          where records, figures and REPORT.md go (default: build/report)
#   --skip-setup              do not call scripts/setup.sh (machines without package access)
# Exit code: 0 when the verdict is PASS, 1 when it is FAIL, 2 when the job could not run (bad option, setup,
# build or report failure): `sageval report`'s own codes.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
backend=sage_int8 quick=0 model="" data="${SAGEVAL_DATA_DIR:-}" report_dir="" setup=1
while [ $# -gt 0 ]; do
  case "$1" in
    --attention-backend) backend="$2"; shift 2 ;;
    --attention-backend=*) backend="${1#*=}"; shift ;;
    --model) model="$2"; shift 2 ;;
    --model=*) model="${1#*=}"; shift ;;
    --data) data="$2"; shift 2 ;;
    --data=*) data="${1#*=}"; shift ;;
    --report-dir) report_dir="$2"; shift 2 ;;
    --report-dir=*) report_dir="${1#*=}"; shift ;;
    --quick) quick=1; shift ;;
    --skip-setup) setup=0; shift ;;
    *) echo "run_validation: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -z "$data" ] && [ -d ../shared/data ] && data="$(cd ../shared/data && pwd)"
if [ -z "$data" ] || [ ! -d "$data" ]; then
  echo "run_validation: no data folder (${data:-none given}): pass --data DIR or set SAGEVAL_DATA_DIR; scripts/fetch_data.sh downloads WikiText-2 and PTB" >&2
  exit 2
fi
export SAGEVAL_DATA_DIR="$(cd "$data" && pwd)"
if [ -n "$model" ]; then
  [ -f "$model/config.json" ] || { echo "run_validation: --model $model is not a model folder (no config.json)" >&2; exit 2; }
  export SAGEVAL_MODEL="$(cd "$model" && pwd)"
fi
export SAGEVAL_ATTENTION_BACKEND="$backend"
BUILD_DIR="${SAGEVAL_BUILD_DIR:-build}"
report_dir="${report_dir:-$BUILD_DIR/report}"
mkdir -p "$report_dir" && [ -w "$report_dir" ] || { echo "run_validation: cannot write to the report directory $report_dir" >&2; exit 2; }
export SAGEVAL_REPORT_DIR="$(cd "$report_dir" && pwd)"
# The commit before anything runs: the run's own output must not make a clean checkout look changed.
# SAGEVAL_COMMIT names it where this checkout's git cannot (a copied working tree with a stale .git).
if [ -n "${SAGEVAL_COMMIT:-}" ]; then
  commit="$SAGEVAL_COMMIT"
elif commit=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD 2>/dev/null || commit="$commit (with local changes)"
else
  commit=unknown
fi
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
logs="$SAGEVAL_REPORT_DIR/logs"

commands=() steps=() skipped=()
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\n')"; }
# step NAME LOG COMMAND...: runs one suite, prints progress, remembers status and time for run.json.
step() {
  local name="$1" log="$2"; shift 2
  commands+=("$*")
  printf '== %-34s ' "$name"
  local t0=$SECONDS
  "$@" > "$log" 2>&1
  local rc=$? status=passed
  [ $rc -eq 0 ] || status=failed
  [ $rc -eq 77 ] && status=skipped
  local summary
  summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$log" | tr -s ' ' | tr '\n' ' ')
  printf '%s in %d s %s(log: %s)\n' "$status" $((SECONDS - t0)) "${summary:+$summary }" "${log#$root/}"
  steps+=("{\"name\": $(json_str "$name"), \"status\": \"$status\", \"exit_code\": $rc, \"seconds\": $((SECONDS - t0)), \"log\": $(json_str "${log#$SAGEVAL_REPORT_DIR/}")}")
}
skip() { skipped+=("{\"section\": $(json_str "$1"), \"reason\": $(json_str "$2")}"); echo "== $1: skipped ($2)"; }

if [ $setup = 1 ]; then bash scripts/setup.sh --plots || exit 2; fi
echo "== build ($BUILD_DIR)"
bash scripts/build.sh > /tmp/sageval_build.log 2>&1 || { tail -40 /tmp/sageval_build.log; echo "run_validation: build failed" >&2; exit 2; }
bin="$BUILD_DIR/src/sageval"
tests="$BUILD_DIR/tests"
# A fresh run: the records of earlier runs would mix into this report.
# Only what a run writes is removed, so a --report-dir shared with other files keeps them.
( cd "$SAGEVAL_REPORT_DIR" && rm -rf ./*.jsonl attention_kernel_bench.json model_bench.json model_bench_quick.json \
    run.json REPORT.md figures figures.log logs )
mkdir -p "$logs"

gpu=0 why_no_gpu=""
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  why_no_gpu="no NVIDIA GPU on this machine (nvidia-smi finds none)"
elif ! "$bin" backends | grep -A1 "^$backend " | grep -q "cuda: yes"; then
  why_no_gpu="this build has no CUDA path for $backend (libtorch without CUDA)"
else
  gpu=1
fi
device=cpu; [ $gpu = 1 ] && device=cuda
echo "== device: $device${why_no_gpu:+ ($why_no_gpu)}; candidate $backend, baseline ${SAGEVAL_BASELINE:-fp16}; quick=$quick"
model_suites='Suite/Perplexity.*:Suite/ContextLength.*:Suite/ActivationDrift.*:Suite/LogitsDiff.*:Generation.*'

if [ $gpu = 1 ]; then
  if [ $quick = 1 ]; then
    export SAGEVAL_SUITE_MAX_BYTES=${SAGEVAL_SUITE_MAX_BYTES:-262144} SAGEVAL_SUITE_TOKENS=${SAGEVAL_SUITE_TOKENS:-16384}
    export SAGEVAL_SUITE_PROMPTS=${SAGEVAL_SUITE_PROMPTS:-4}
    kernel_filter='*D128*'; bench_quick=(--quick)
  else
    kernel_filter='*'; bench_quick=()
  fi
  step "kernel accuracy (CUDA)" "$logs/kernel_accuracy.log" "$tests/sageval_gpu_tests" --gtest_filter="$kernel_filter"
  step "kernel speed" "$logs/kernel_speed.log" "$BUILD_DIR/bench/sageval_attention_bench" "${bench_quick[@]}" \
    --json "$SAGEVAL_REPORT_DIR/attention_kernel_bench.json"
  step "model suites (GPU sizes)" "$logs/model_suites.log" "$tests/sageval_model_gpu_tests" --gtest_filter="$model_suites"
  step "memory and leak checks" "$logs/memory.log" "$tests/sageval_perf_tests"
  # fp16, the candidate and libtorch's SDPA where this libtorch has it (>= 2.1), each once.
  bench_backends=fp16
  [ "$backend" != fp16 ] && bench_backends="$bench_backends,$backend"
  "$bin" backends | grep -q '^sdpa ' && [ "$backend" != sdpa ] && bench_backends="$bench_backends,sdpa"
  step "model throughput and memory" "$logs/model_bench.log" "$BUILD_DIR/bench/sageval_model_bench" "${bench_quick[@]}" \
    --backends "$bench_backends" ${SAGEVAL_MODEL:+--model "$SAGEVAL_MODEL"} --json "$SAGEVAL_REPORT_DIR/model_bench.json"
else
  if [ $quick = 1 ]; then
    export SAGEVAL_SUITE_MAX_BYTES=${SAGEVAL_SUITE_MAX_BYTES:-2048} SAGEVAL_SUITE_CONTEXT=${SAGEVAL_SUITE_CONTEXT:-512}
    export SAGEVAL_SUITE_LENGTHS=${SAGEVAL_SUITE_LENGTHS:-128,512} SAGEVAL_SUITE_TOKENS=${SAGEVAL_SUITE_TOKENS:-1024}
    export SAGEVAL_SUITE_LONG_TOKENS=${SAGEVAL_SUITE_LONG_TOKENS:-1024} SAGEVAL_SUITE_NEW_TOKENS=${SAGEVAL_SUITE_NEW_TOKENS:-32}
    kernel_filter='*D128*'
  else
    kernel_filter='*'
  fi
  step "kernel accuracy (CPU emulation)" "$logs/kernel_accuracy.log" "$tests/sageval_accuracy_tests" --gtest_filter="$kernel_filter"
  step "model suites (CPU sizes)" "$logs/model_suites.log" "$tests/sageval_model_tests" --gtest_filter="$model_suites"
  for section in "kernel speed" "memory" "throughput"; do skip "$section" "$why_no_gpu"; done
fi

{
  gpu_name="" clocks="" driver=""
  if [ $gpu = 1 ]; then
    gpu_name=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)
    clocks=$(nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem --format=csv,noheader | head -1)
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
  fi
  printf '{\n  "commit": %s,\n  "date": %s,\n  "host": %s,\n' "$(json_str "$commit")" \
    "$(json_str "$(date -u +%Y-%m-%dT%H:%MZ)")" "$(json_str "$(uname -srm), $(nproc) cores")"
  printf '  "device": %s,\n  "candidate": %s,\n  "baseline": %s,\n  "quick": %s,\n' "$(json_str "$device${gpu_name:+ ($gpu_name)}")" \
    "$(json_str "$backend")" "$(json_str "${SAGEVAL_BASELINE:-fp16}")" "$([ $quick = 1 ] && echo true || echo false)"
  printf '  "gpu": %s,\n  "clocks": %s,\n  "driver": %s,\n  "nvcc": %s,\n' "$(json_str "${gpu_name:-none}")" \
    "$(json_str "${clocks:+SM, max SM, memory, max memory: $clocks}")" "$(json_str "$driver")" \
    "$(json_str "$(nvcc --version 2>/dev/null | tail -1)")"
  printf '  "model": %s,\n  "data": %s,\n' "$(json_str "${SAGEVAL_MODEL:-data/models/sageval-byte-llama}")" "$(json_str "$SAGEVAL_DATA_DIR")"
  printf '  "commands": [%s' "$(json_str "scripts/run_validation.sh $([ $quick = 1 ] && echo --quick) --attention-backend $backend")"
  for c in "${commands[@]}"; do printf ',\n    %s' "$(json_str "$c")"; done
  printf '],\n  "suites": [%s' "$(IFS=,; echo "${steps[*]}")"
  printf '],\n  "skipped": [%s]\n}\n' "$(IFS=,; echo "${skipped[*]}")"
} > "$SAGEVAL_REPORT_DIR/run.json"

# `sageval report` ends the output with the report's path and the verdict, and exits with it (0 PASS, 1 FAIL,
# 2 when the report could not be written).
"$bin" report --dir "$SAGEVAL_REPORT_DIR"
rc=$?
[ $rc -le 1 ] || echo "run_validation: the report could not be written (sageval report exited $rc)" >&2
exit $(( rc <= 1 ? rc : 2 ))
