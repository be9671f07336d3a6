#!/usr/bin/env bash
# A main job cut short loses nothing: the last finished run's REPORT.md and figures stay whole, the new report is
# REPORT.incomplete.md saying why, and the exit code is 2 (no verdict). Two ways: SIGTERM to `sageval validate`
# while a step runs (it ends the step and starts no more), and SIGKILL (nothing can run: run.json still says the
# run has not finished, and `sageval report` marks the report incomplete).
# Usage: interrupted_run.sh SAGEVAL_BINARY MODEL_DIR
set -uo pipefail
bin=$1 model=$2 tmp=$(mktemp -d) failures=0
trap 'pkill -P $$ 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
mkdir -p "$tmp/data"
start_and_wait_for_first_step() {  # a validate run whose first step is under way; sets pid and dir
  dir=$1
  mkdir -p "$dir/figures"
  echo "the last finished run's report" > "$dir/REPORT.md"
  echo "png" > "$dir/figures/kernel_tops.png"
  "$bin" validate --quick --data "$tmp/data" --model "$model" --report-dir "$dir" > "$dir.out" 2>&1 &
  pid=$!
  for _ in $(seq 300); do [ -s "$dir/logs/kernel_accuracy.log" ] && break; sleep 0.1; done
  [ -s "$dir/logs/kernel_accuracy.log" ] || fail "the first step did not start: $(cat "$dir.out")"
}
previous_intact() {
  [ "$(cat "$1/REPORT.md")" = "the last finished run's report" ] || fail "$2: REPORT.md was replaced"
  [ -f "$1/figures/kernel_tops.png" ] || fail "$2: the previous figures were removed"
}

start_and_wait_for_first_step "$tmp/term"
kill -TERM $pid
wait $pid; rc=$?
[ $rc -eq 2 ] || fail "SIGTERM: exit $rc, expected 2: $(cat "$tmp/term.out")"
previous_intact "$tmp/term" SIGTERM
grep -q "Incomplete run" "$tmp/term/REPORT.incomplete.md" 2>/dev/null || fail "SIGTERM: no REPORT.incomplete.md marked incomplete"
grep -q "interrupted by signal 15" "$tmp/term/REPORT.incomplete.md" 2>/dev/null || fail "SIGTERM: the report does not say it was interrupted"
grep -q "not run: model suites" "$tmp/term/REPORT.incomplete.md" 2>/dev/null || fail "SIGTERM: the report does not list the steps not run"
[ $failures -eq 0 ] && echo "ok: SIGTERM -> exit 2, REPORT.md intact, $(grep -m1 'interrupted' "$tmp/term/REPORT.incomplete.md")"

start_and_wait_for_first_step "$tmp/kill"
children=$(pgrep -P $pid)
kill -KILL $pid
wait $pid 2>/dev/null
[ -n "$children" ] && kill -KILL $children 2>/dev/null
"$bin" report --dir "$tmp/kill" --no-figures > "$tmp/report.out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "SIGKILL: sageval report exit $rc, expected 2: $(cat "$tmp/report.out")"
previous_intact "$tmp/kill" SIGKILL
grep -q "has not finished" "$tmp/kill/REPORT.incomplete.md" 2>/dev/null || fail "SIGKILL: REPORT.incomplete.md does not say the run did not finish"
[ $failures -eq 0 ] && echo "ok: SIGKILL -> sageval report exit 2, REPORT.md intact, $(grep -m1 'has not finished' "$tmp/kill/REPORT.incomplete.md")"
echo "$failures failure(s)"
[ $failures -eq 0 ]
