#!/usr/bin/env bash
# The main job in one line: set up what is missing, build, then `sageval validate`, which runs every suite this
# machine can run and writes the report (build/report/REPORT.md unless --report-dir says otherwise).
# Options: those of `build/src/sageval validate --help` (--model DIR, --data DIR, --attention-backend NAME,
# --quick, --report-dir DIR), plus --skip-setup (do not call scripts/setup.sh: machines without package access).
# Without --data, $SAGEVAL_DATA_DIR, else ../shared/data when it exists.
# Exit code: sageval validate's: 0 PASS, 1 FAIL, 2 when the job could not run (setup and build failures too).
set -uo pipefail
cd "$(dirname "$0")/.."
setup=1 args=()
for a in "$@"; do
  if [ "$a" = --skip-setup ]; then setup=0; else args+=("$a"); fi
done
if [ -z "${SAGEVAL_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export SAGEVAL_DATA_DIR="$(cd ../shared/data && pwd)"; fi
if [ $setup = 1 ]; then bash scripts/setup.sh --plots || exit 2; fi
log=$(mktemp)
echo "== build (${SAGEVAL_BUILD_DIR:-build})"
bash scripts/build.sh > "$log" 2>&1 || { tail -40 "$log"; echo "run_validation: build failed (log: $log)" >&2; exit 2; }
exec "${SAGEVAL_BUILD_DIR:-build}/src/sageval" validate "${args[@]}"
