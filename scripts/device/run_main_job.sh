#!/usr/bin/env bash
# One call on the GPU machine: the main job (scripts/run_validation.sh) against the pip CUDA libtorch, with the
# data carried in .device-data, then the report directory packed into $OUT/report.tar.gz (the device tool
# returns few files) plus REPORT.md and the run log on their own, then the kernels under compute-sanitizer.
# Usage: scripts/device/run_main_job.sh [run_validation options, e.g. --quick]
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
report=build-gpu/report
bash scripts/run_validation.sh --skip-setup --data .device-data --report-dir "$report" "$@" 2>&1 | tee "$OUTDIR/main_job.log"
rc=${PIPESTATUS[0]}
cp "$report/REPORT.md" "$OUTDIR/" 2>/dev/null
tar -czf "$OUTDIR/report.tar.gz" -C build-gpu report
echo "main job rc=$rc"
# The kernels under compute-sanitizer, on the build the report came from (scripts/device/sanitize_kernels.sh).
bash scripts/device/sanitize_kernels.sh | tee "$OUTDIR/sanitizers.txt"
