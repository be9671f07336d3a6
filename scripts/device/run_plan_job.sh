#!/usr/bin/env bash
# One call on the GPU machine: build, then the main job with `--precision-plan auto` (the plan search, the model
# suites with the plan beside the candidate everywhere, both verdicts); REPORT.md, the run log and the report
# folder (tar) under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
device_build || exit 1
t0=$(date +%s)
timeout "${JOB_TIMEOUT:-480}" build-gpu/src/sageval validate --data .device-data --precision-plan auto \
  --report-dir build-gpu/report_plan > "$OUTDIR/main_job_plan.log" 2>&1
echo "main job with --precision-plan auto: rc=$? wall $(( $(date +%s) - t0 )) s"
grep -E '^== |verdict|report:' "$OUTDIR/main_job_plan.log"
cp build-gpu/report_plan/REPORT*.md "$OUTDIR/" 2>/dev/null
tar -czf "$OUTDIR/report_plan.tar.gz" -C build-gpu report_plan
