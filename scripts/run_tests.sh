#!/usr/bin/env bash
# The test command: set up, build, run every ctest test. GPU tests run where a GPU is visible and show as
# Skipped (with the reason) where not. Extra arguments go to ctest (e.g. -L cpu, -R SageInt8VsMath); one case:
# build/tests/sageval_accuracy_tests --gtest_filter='*D128_Q1000*' (or configure with -DSAGEVAL_CTEST_PER_CASE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BUILD_DIR="${SAGEVAL_BUILD_DIR:-build}"
if [ -z "${SAGEVAL_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export SAGEVAL_DATA_DIR="$(cd ../shared/data && pwd)"; fi
export SAGEVAL_REPORT_DIR="${SAGEVAL_REPORT_DIR:-$PWD/$BUILD_DIR/report}"
rm -f "$SAGEVAL_REPORT_DIR"/*.jsonl
# ctest runs tests in parallel, a test per core; one BLAS thread each keeps them from oversubscribing the cores.
# The cores are counted first: GNU nproc honours OMP_NUM_THREADS, and counted after it ctest ran one test at a time.
jobs="${SAGEVAL_JOBS:-$(nproc)}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# Where GPUs are visible, ctest spreads the GPU tests over them (`sageval resource-spec`: each GPU test asks for
# one GPU; timing, memory and model suites for a whole one). Without a GPU there is nothing to spread.
spec=()
if "$BUILD_DIR/src/sageval" resource-spec --out "$BUILD_DIR/gpus.json" 2> "$BUILD_DIR/gpus.log"; then
  spec=(--resource-spec-file "$PWD/$BUILD_DIR/gpus.json")
  echo "run_tests: GPU tests spread over the visible GPUs ($(grep -c '^GPU' "$BUILD_DIR/gpus.log"); $BUILD_DIR/gpus.json)"
else
  echo "run_tests: no resource spec: $(sed 's/^sageval resource-spec: error: //' "$BUILD_DIR/gpus.log")"
fi
cd "$BUILD_DIR"
# One JUnit file per run in the report folder, for CI dashboards (one test case per ctest entry).
ctest --output-on-failure -j "$jobs" --output-junit "$SAGEVAL_REPORT_DIR/ctest-junit.xml" "${spec[@]}" "$@"
