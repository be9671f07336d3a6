#!/usr/bin/env bash
# Decode on the GPU machine (issue #17), one call: builds the GPU tests, the model GPU tests and both decode
# benchmarks; runs the decode kernel tests (split-KV against the prefill kernel, kv_lengths per backend, the
# accuracy cases with one query against 1000 keys, where fp16 and sage_int8 take the decode path), the model's
# decode suite (CUDA-graph replay against the same step launched eagerly) and generation suite, the decode
# attention benchmark (GB/s of the cache against the copy) and the model benchmark's decode section (tokens/s,
# the attention's share of a step and its bandwidth). Logs and JSON under $OUT.
# FILTER / MODEL_FILTER override the test filters, BENCH_ARGS / MODEL_BENCH_ARGS the benchmarks' grids
# (BENCH_ARGS=skip or MODEL_BENCH_ARGS=skip leaves one out).
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
export SAGEVAL_DATA_DIR="$PWD/.device-data"  # the model suites' data, carried along
SAGEVAL_TARGETS="sageval_gpu_tests sageval_model_gpu_tests sageval_decode_bench sageval_model_bench" device_build || exit 1
FILTER="${FILTER:-*Fp16DecodeKernel*:*KvLengthsOnCuda*:*Q1_K1000*}" run_kernel_tests
timeout 300 build-gpu/tests/sageval_model_gpu_tests --gtest_filter="${MODEL_FILTER:-Decode.*:Generation.*}" \
  > "$OUTDIR/model_gpu_tests.log" 2>&1
echo "model tests rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) +\]|figures|Failure" -A3 "$OUTDIR/model_gpu_tests.log" | cut -c1-300 | head -40
if [ "${BENCH_ARGS:-}" != skip ]; then
  timeout 200 build-gpu/bench/sageval_decode_bench ${BENCH_ARGS:---iters 20} --json "$OUTDIR/decode_bench.json" \
    > "$OUTDIR/decode_bench.txt" 2>&1
  echo "decode bench rc=$?"
  tail -40 "$OUTDIR/decode_bench.txt"
fi
if [ "${MODEL_BENCH_ARGS:-}" != skip ]; then
  timeout 300 build-gpu/bench/sageval_model_bench --decode-only ${MODEL_BENCH_ARGS:---iters 20} \
    --json "$OUTDIR/model_bench_decode.json" > "$OUTDIR/model_bench_decode.txt" 2>&1
  echo "model bench rc=$?"
  tail -60 "$OUTDIR/model_bench_decode.txt"
fi
