#!/usr/bin/env bash
# One call on the GPU machine comparing the two Q granularities of the INT8 recipe (numerics::QGranularity:
# backends sage_int8_qblock and sage_int8_qwarp, one of them the default `sage_int8`): build, the sage_int8 GPU
# tests (both granularities on both kernel paths against their emulations, the quantizer's byte identity), the
# kernel benchmark with both backends timed end to end beside the SDPA baselines, and the context-length suite
# (top-1 agreement and KLD against fp16 on WikiText-2) with each as the candidate. Logs under $OUT.
# Carry .device-deps and .device-data. BENCH_ARGS, LENGTHS and TESTS=0 narrow it.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
export SAGEVAL_DATA_DIR="${SAGEVAL_DATA_DIR:-$PWD/.device-data}"
device_build || exit 1
FILTER="${FILTER:-*SageInt8*:*sage_int8*:Sm90*}" run_kernel_tests
build-gpu/bench/sageval_attention_bench ${BENCH_ARGS:---head-dim 128,64 --seq 1024,4096,16384 --warmup 3 --iters 10} \
  --backends sage_int8_qblock,sage_int8_qwarp --json "$OUTDIR/kernel_bench.json" > "$OUTDIR/kernel_bench.log" 2>&1
echo "kernel bench rc=$?"
sed -n '/^TOPS/,$p' "$OUTDIR/kernel_bench.log" | head -40
for candidate in sage_int8_qblock sage_int8_qwarp; do
  SAGEVAL_SUITE_LENGTHS="${LENGTHS:-1024,2048,4096}" SAGEVAL_REPORT_DIR="$OUTDIR/records_$candidate" \
    timeout 400 build-gpu/tests/sageval_model_gpu_tests --gtest_filter='Suite/ContextLength.*/CandidateVsBaseline' \
    --attention-backend "$candidate" > "$OUTDIR/context_length_$candidate.log" 2>&1
  echo "context length ($candidate) rc=$?"
  sed -n '/figures  \] context length/,/^\[/p' "$OUTDIR/context_length_$candidate.log" | head -12
  grep -E "^\[  (PASSED|FAILED) " "$OUTDIR/context_length_$candidate.log"
done
