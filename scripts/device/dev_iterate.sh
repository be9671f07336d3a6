#!/usr/bin/env bash
# One quick call on the GPU machine while working on a kernel: build (SAGEVAL_TARGETS narrows it), run the
# sage_int8 / sm90 GPU tests (skipped when TESTS=0; FILTER overrides the gtest filter) and the kernel benchmark
# on a few shapes (DIMS, SEQS). Logs under $OUT. The full GPU pass is run_gpu_suite.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
t0=$(date +%s)
bash scripts/build.sh > "$OUTDIR/build.log" 2>&1 || { tail -60 "$OUTDIR/build.log"; exit 1; }
echo "build $(( $(date +%s) - t0 )) s"
if [ "${TESTS:-1}" = 1 ]; then
  timeout 300 build-gpu/tests/sageval_gpu_tests --gtest_filter="${FILTER:-*SageInt8*:*sage_int8*:Sm90*:Kernels/*}" \
    > "$OUTDIR/gpu_tests.log" 2>&1
  echo "tests rc=$?"
  grep -E "^\[  (PASSED|FAILED|SKIPPED) +\]" "$OUTDIR/gpu_tests.log" | head -3
  grep -E "^\[  FAILED" "$OUTDIR/gpu_tests.log" | head -8
fi
timeout 300 build-gpu/bench/sageval_attention_bench --head-dim "${DIMS:-128,64}" --seq "${SEQS:-1024,4096,16384}" \
  --warmup 3 --iters 10 --json "$OUTDIR/bench.json" > "$OUTDIR/bench.txt" 2>&1
echo "bench rc=$?"
grep -A20 "^TOPS" "$OUTDIR/bench.txt"
