#!/usr/bin/env bash
# The CPU unit tests (sageval_unit_tests: quantization, metrics, registry, bad input, bridge, layouts, safetensors,
# windows, regression, report, data sets, GPU spec parsing, the step runner) built with AddressSanitizer and
# UndefinedBehaviorSanitizer (-DSAGEVAL_SANITIZE=ON) into build-asan, then run. Not the model suites (long) and
# not the CUDA kernels (compute-sanitizer covers those on the GPU machine). A sanitizer report fails the run.
# Usage: scripts/sanitize_tests.sh [gtest filter]
set -uo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
mkdir -p build-asan
SAGEVAL_BUILD_DIR=build-asan SAGEVAL_CMAKE_ARGS="-DSAGEVAL_SANITIZE=ON ${SAGEVAL_CMAKE_ARGS:-}" \
  SAGEVAL_TARGETS=sageval_unit_tests bash scripts/build.sh > build-asan/build.log 2>&1 || { tail -40 build-asan/build.log; exit 2; }
echo "sanitize: built in $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
# LeakSanitizer too (it is on with ASan): no leak was reported on 2026-11-29.
ASAN_OPTIONS="abort_on_error=1:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  OMP_NUM_THREADS=1 build-asan/tests/sageval_unit_tests ${1:+--gtest_filter="$1"} > build-asan/unit_tests.log 2>&1
rc=$?
echo "sanitize: sageval_unit_tests rc=$rc in $(( $(date +%s) - t0 )) s: $(grep -E '^\[  (PASSED|FAILED) +\]' build-asan/unit_tests.log | tr '\n' ' ')"
grep -E "ERROR: AddressSanitizer|runtime error|SUMMARY" build-asan/unit_tests.log | head -10
exit $rc
