#!/usr/bin/env bash
# One call on the GPU machine for the model runner: build, the model tests against libtorch 2.x, the
# transformers cross-check (CPU float32 gate; GPU fp16/bf16 with our kernels), and prefill tokens/s of the
# cross-check's tiny Llama on CPU and GPU. Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
device_build || exit 1
build-gpu/tests/sageval_model_tests > "$OUTDIR/model_tests.log" 2>&1
echo "model tests rc=$? $(grep -E '^\[  (PASSED|FAILED) +\]' "$OUTDIR/model_tests.log" | tr '\n' ' ')"
PYTHONUNBUFFERED=1 python3 scripts/crosscheck_transformers.py --sageval build-gpu/src/sageval --gpu \
  --keep /tmp/crosscheck_models --out "$OUTDIR/crosscheck.json" 2>&1 | tee "$OUTDIR/crosscheck.log" | grep -v Warning
m=/tmp/crosscheck_models/llama
{
  for t in 128 512 2048; do
    build-gpu/src/sageval prefill-speed --model $m --device cpu --dtype fp32 --attention-backend math --tokens $t --iters 5
    for b in fp16 sage_int8 sdpa; do
      build-gpu/src/sageval prefill-speed --model $m --device cuda --dtype fp16 --attention-backend $b --tokens $t --batch 8 --iters 20
    done
  done
} 2>&1 | tee "$OUTDIR/prefill_speed.log"
