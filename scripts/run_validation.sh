#!/usr/bin/env bash
# The main job: set up, build, run the validation this machine can run, and write the report.
#   GPU present: the kernel accuracy checks on CUDA.  No GPU: the same checks on the CPU emulations.
# Options: --attention-backend NAME (default sage_int8), --quick (smaller shapes).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=sage_int8
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --attention-backend) backend="$2"; shift 2 ;;
    --attention-backend=*) backend="${1#*=}"; shift ;;
    --quick) quick=1; shift ;;
    *) echo "run_validation: unknown option $1" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
bash scripts/build.sh
BUILD_DIR="${SAGEVAL_BUILD_DIR:-build}"
REPORT_DIR="${SAGEVAL_REPORT_DIR:-$PWD/$BUILD_DIR/report}"
mkdir -p "$REPORT_DIR"
bin="$BUILD_DIR/src/sageval"
device=cpu
if "$bin" backends | grep -A1 "^$backend " | grep -q "cuda: yes" && command -v nvidia-smi >/dev/null 2>&1 \
   && nvidia-smi -L >/dev/null 2>&1; then
  device=cuda
fi
len=1024; [ "$quick" = 1 ] && len=256
[ "$device" = cuda ] && [ "$quick" = 0 ] && len=4096
report="$REPORT_DIR/REPORT.md"
status=0
{
  echo "# sageval validation report"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown), date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- candidate backend: \`$backend\`, baseline: \`math\` (float64), device: $device"
  [ "$device" = cpu ] && echo "- GPU sections skipped: no CUDA device (or no CUDA kernels in this build); the CPU runs the exact emulations of the kernels."
  echo
} > "$report"
for causal in "" "--causal"; do
  for d in 64 128; do
    echo "== sageval check --attention-backend $backend --head-dim $d --len-q $len $causal --device $device"
    out=$("$bin" check --attention-backend "$backend" --head-dim "$d" --len-q "$len" $causal --device "$device" \
          --report-dir "$REPORT_DIR") || status=1
    echo "$out"
    { echo '```'; echo "$out"; echo '```'; echo; } >> "$report"
  done
done
verdict=pass; [ $status -eq 0 ] || verdict=FAIL
echo "**Verdict: $verdict**" >> "$report"
echo "report: $report"
echo "verdict: $verdict"
exit $status
