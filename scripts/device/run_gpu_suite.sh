#!/usr/bin/env bash
# One call on the GPU machine: build against the pip CUDA libtorch, run every test binary (GPU and CPU
# labels: the CPU suites also prove the code against libtorch 2.x), a compute-sanitizer pass over a small
# grid, and the kernel benchmark. Logs under $OUT (or ./device_out).
# Usage: scripts/device/run_gpu_suite.sh [--no-bench] [--no-sanitizer] [--quick-bench]
set -uo pipefail
cd "$(dirname "$0")/../.."
bench=1; sanitizer=1; bench_args=()
for a in "$@"; do
  case "$a" in
    --no-bench) bench=0 ;;
    --no-sanitizer) sanitizer=0 ;;
    --quick-bench) bench_args+=(--quick) ;;
  esac
done
source scripts/device/gpu_build_env.sh
export SAGEVAL_REPORT_DIR="$PWD/build-gpu/report"
{
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv
  python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
  nvcc --version | tail -1
} 2>&1 | tee "$OUTDIR/env.txt"
device_build || exit 1
mkdir -p "$SAGEVAL_REPORT_DIR"
# One process per test binary: ctest starts a process per case, and each CUDA libtorch start costs ~4 s.
# `ctest -L gpu` runs the same cases one by one.
for t in sageval_gpu_tests sageval_unit_tests sageval_accuracy_tests; do
  build-gpu/tests/$t > "$OUTDIR/$t.log" 2>&1
  echo "$t rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$OUTDIR/$t.log" | tr '\n' ' ')"
  grep -E '^\[  FAILED  \]' "$OUTDIR/$t.log" | head -20
done
grep -h "figures" "$OUTDIR"/sageval_*_tests.log > "$OUTDIR/gpu_figures.txt" 2>/dev/null
cat "$SAGEVAL_REPORT_DIR"/*.jsonl > "$OUTDIR/records.jsonl" 2>/dev/null
if [ $sanitizer = 1 ]; then
  bash scripts/device/sanitize_kernels.sh
fi
if [ $bench = 1 ] && [ -x build-gpu/bench/sageval_attention_bench ]; then
  build-gpu/bench/sageval_attention_bench "${bench_args[@]}" --json "$OUTDIR/kernel_bench.json" 2>&1 | tee "$OUTDIR/kernel_bench.txt" | tail -40
fi
