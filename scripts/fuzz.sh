#!/usr/bin/env bash
# The fuzz targets (fuzz/): build them with clang (libFuzzer, AddressSanitizer, UndefinedBehaviorSanitizer) into
# build-fuzz, seed their corpora from the project's files (fuzz/make_seeds.py), run each for SECONDS (default 60)
# and print its executions. A crash, a sanitizer report or an improper error stops the target; the input is kept
# as build-fuzz/crashes/<target>-crash-*, and the script exits 1. Corpora grow across runs in build-fuzz/corpus.
# The same build runs the unit tests that need no libtorch (report, records, data sets, JSON) under AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer first; a failure or a sanitizer report exits 1.
# Usage: scripts/fuzz.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
dir=build-fuzz
cxx=$(command -v clang++ || true)
if [ -z "$cxx" ]; then echo "fuzz: no clang++ (Debian: apt install clang libclang-rt-14-dev)" >&2; exit 2; fi
t0=$(date +%s)
mkdir -p "$dir"
cmake -S fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" > "$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; exit 2; }
cmake --build "$dir" > "$dir/build.log" 2>&1 || { tail -40 "$dir/build.log"; exit 2; }
echo "fuzz: built in $(( $(date +%s) - t0 )) s"
if "$dir/sanitized_unit_tests" > "$dir/sanitized_unit_tests.log" 2>&1; then
  echo "sanitized unit tests (ASan, UBSan, LSan): $(grep -E '^\[  PASSED  \]' "$dir/sanitized_unit_tests.log") $(grep -E '^\[  SKIPPED \] [0-9]' "$dir/sanitized_unit_tests.log")"
else
  echo "sanitized unit tests failed:"; grep -E "FAILED|ERROR|runtime error|SUMMARY" "$dir/sanitized_unit_tests.log" | head -20
  exit 1
fi
/usr/bin/python3 fuzz/make_seeds.py "$dir/seeds" || exit 2
mkdir -p "$dir/crashes"
failed=0
for target in safetensors_header config thresholds token_ids records; do
  mkdir -p "$dir/corpus/$target"
  "$dir/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$dir/crashes/$target-" \
    -max_len=65536 -timeout=10 "$dir/corpus/$target" "$dir/seeds/$target" > "$dir/$target.log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$dir/$target.log" | grep -oE '[0-9]+$')
  speed=$(grep -oE 'stat::average_exec_per_sec: +[0-9]+' "$dir/$target.log" | grep -oE '[0-9]+$')
  if [ $rc -eq 0 ]; then
    echo "fuzz_$target: ${runs:-?} executions in $seconds s (${speed:-?}/s), corpus $(ls "$dir/corpus/$target" | wc -l) inputs, no defect"
  else
    echo "fuzz_$target: DEFECT after ${runs:-?} executions (exit $rc): $(ls "$dir/crashes" | grep "^$target-" | head -3 | tr '\n' ' ')"
    grep -E "ERROR|SUMMARY|runtime error|escaped|abort" "$dir/$target.log" | head -8
    failed=1
  fi
done
exit $failed
