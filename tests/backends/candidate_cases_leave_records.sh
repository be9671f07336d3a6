#!/usr/bin/env bash
# The kernel accuracy suite run with a candidate that fails and one that refuses (tests/python/sageval_test_faults.py):
# every case leaves its record, the failure as a failed case with the message, the refusal as unsupported with the
# reason. Usage: candidate_cases_leave_records.sh ACCURACY_TEST_EXECUTABLE
set -euo pipefail
exe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
filter='Shapes/CandidateVsMath.Accuracy/D64_Q1_K1_GQA1_*'
if SAGEVAL_REPORT_DIR=$dir/nan "$exe" --attention-backend py:sageval_test_faults:returns_nan --gtest_filter="$filter" \
    > "$dir/nan.log" 2>&1; then
  echo "a candidate whose output holds NaN passed:"; cat "$dir/nan.log"; exit 1
fi
grep -q '"error":"py:sageval_test_faults:returns_nan: ' "$dir/nan/attention_accuracy_cpu.jsonl" \
  || { echo "no error record:"; cat "$dir/nan/attention_accuracy_cpu.jsonl" "$dir/nan.log"; exit 1; }
SAGEVAL_REPORT_DIR=$dir/refuses "$exe" --attention-backend py:sageval_test_faults:refuses --gtest_filter="$filter" \
  > "$dir/refuses.log" 2>&1 || { echo "a refusal failed the run:"; cat "$dir/refuses.log"; exit 1; }
grep -q 'SKIPPED' "$dir/refuses.log" || { echo "the refused case was not shown as skipped"; cat "$dir/refuses.log"; exit 1; }
grep -q '"unsupported":"attention backend '"'"'py:sageval_test_faults:refuses'"'"': Python raised Unsupported' \
  "$dir/refuses/attention_accuracy_cpu.jsonl" \
  || { echo "no unsupported record:"; cat "$dir/refuses/attention_accuracy_cpu.jsonl"; exit 1; }
echo "the failing case and the refused case each left their record"
