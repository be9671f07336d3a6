#!/usr/bin/env bash
# One call on a GPU machine with several GPUs (e.g. nvidia-h200-x2): build, then the GPU tests through ctest's
# resource allocation on one GPU and on all of them, each timed, and (MAIN_JOB=1) the main job on one GPU and on
# all of them, each timed; logs under $OUT. The per-test device is the line each test process prints
# ("ctest resource allocation: GPU n ... -> CUDA_VISIBLE_DEVICES=n: NAME UUID"), collected from ctest's log.
# On a machine of one GPU only the one-GPU runs are made.
# Usage: scripts/device/multi_gpu_check.sh   (env: CTEST=0 skips the ctest runs, MAIN_JOB=1 adds the main job)
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
export SAGEVAL_DATA_DIR="$PWD/.device-data"  # the model suites' data, carried along
nvidia-smi --query-gpu=index,name,uuid,driver_version --format=csv > "$OUTDIR/env.txt" 2>&1
ngpu=$(nvidia-smi -L | wc -l)
device_build || exit 1
echo "$ngpu GPUs"; cat "$OUTDIR/env.txt"
sageval=build-gpu/src/sageval
slots=$(grep -oE '"slots": [0-9]+' <("$sageval" resource-spec --gpus 1) | grep -oE '[0-9]+')
timed_ctest() {  # timed_ctest NAME SPEC JOBS [env...]
  local name=$1 spec=$2 jobs=$3; shift 3
  local t=$(date +%s)
  env "$@" ctest --test-dir build-gpu -L gpu -j "$jobs" --resource-spec-file "$spec" --output-on-failure \
    > "$OUTDIR/ctest_$name.log" 2>&1
  local rc=$?
  cp build-gpu/Testing/Temporary/LastTest.log "$OUTDIR/ctest_${name}_detail.log" 2>/dev/null
  echo "ctest -L gpu ($name, -j $jobs): rc=$rc wall $(( $(date +%s) - t )) s; $(grep -E 'tests passed|tests failed' "$OUTDIR/ctest_$name.log")"
  grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|Not Run)' "$OUTDIR/ctest_$name.log" | head -10
  # Per test: the GPU its process was given.
  grep -oE 'ctest resource allocation: GPU [0-9]+ \([0-9]+ of [0-9]+ slots, [0-9]+ CPU threads[a-zA-Z_ ]*\) -> CUDA_VISIBLE_DEVICES=[^:]+: .*' \
    "$OUTDIR/ctest_${name}_detail.log" | sed -E 's/ -> CUDA_VISIBLE_DEVICES=[^:]+: / /' | sort | uniq -c
}
if [ "${CTEST:-1}" = 1 ]; then
  "$sageval" resource-spec --out "$OUTDIR/gpus_all.json"
  CUDA_VISIBLE_DEVICES=0 "$sageval" resource-spec --out "$OUTDIR/gpus_one.json"
  [ "$ngpu" -gt 1 ] && timed_ctest all_gpus "$OUTDIR/gpus_all.json" $((ngpu * slots))
  timed_ctest one_gpu "$OUTDIR/gpus_one.json" "$slots" CUDA_VISIBLE_DEVICES=0
fi
if [ "${MAIN_JOB:-0}" = 1 ]; then
  runs=(one); [ "$ngpu" -gt 1 ] && runs=(all one)
  for run in "${runs[@]}"; do
    vis=(); [ $run = one ] && vis=(CUDA_VISIBLE_DEVICES=0)
    t=$(date +%s)
    env "${vis[@]}" "$sageval" validate --data .device-data --report-dir "build-gpu/report_$run" > "$OUTDIR/main_job_$run.log" 2>&1
    echo "main job ($run GPUs): rc=$? wall $(( $(date +%s) - t )) s"
    grep -E '^== ' "$OUTDIR/main_job_$run.log"
  done
  tar -czf "$OUTDIR/reports.tar.gz" -C build-gpu "${runs[@]/#/report_}"
fi
