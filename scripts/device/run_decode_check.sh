#!/usr/bin/env bash
# Decode attention on the GPU machine (issue #17), one call: builds the GPU tests and the decode benchmark, runs
# the fp16 kernel tests (the split-KV decode kernel against the prefill kernel, and the fp16 accuracy table, whose
# 1 x 1000 cases take the decode path) and the decode benchmark (GB/s of the cache against the copy, per backend).
# Logs and JSON under $OUT. BENCH_ARGS overrides the benchmark's grid (e.g. "--quick").
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
SAGEVAL_TARGETS="sageval_gpu_tests sageval_decode_bench" device_build || exit 1
FILTER="${FILTER:-*Fp16*:*fp16*:Kernels/*}" run_kernel_tests
timeout 400 build-gpu/bench/sageval_decode_bench ${BENCH_ARGS:---iters 20} --json "$OUTDIR/decode_bench.json" \
  > "$OUTDIR/decode_bench.txt" 2>&1
echo "decode bench rc=$?"
cat "$OUTDIR/decode_bench.txt"
