#!/usr/bin/env bash
# One call on the GPU machine: train the default model (scripts/train_default_model.py), then measure its
# loss with our runner on the same GPU (float32, to compare with transformers' figure; fp16 with the fp16 and
# sage_int8 kernels for information) and the CPU test's slice. Needs the data copied into .device-data
# (carried). The model lands in $OUT/model.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUTDIR="${OUT:-$PWD/device_out}"
DATA="$PWD/.device-data"
MINUTES="${1:-4.5}"
mkdir -p "$OUTDIR"
export SAGEVAL_JOBS=12 SAGEVAL_EXTRA_CMAKE_ARGS=-DSAGEVAL_BUILD_TESTS=OFF
source scripts/device/gpu_build_env.sh
( bash scripts/build.sh > /tmp/build.log 2>&1; echo "build rc=$?" >> /tmp/build.log ) &
build_pid=$!
PYTHONUNBUFFERED=1 python3 scripts/train_default_model.py --data-dir "$DATA" --out "$OUTDIR/model" --minutes "$MINUTES" \
  > "$OUTDIR/train.log" 2>&1
echo "train rc=$?"; grep -vE "^step" "$OUTDIR/train.log" | tail -25
rm -f "$OUTDIR/model/generation_config.json"
wait $build_pid; tail -1 /tmp/build.log
sv=build-gpu/src/sageval
{
  $sv nll --model "$OUTDIR/model" --data "$DATA/wikitext-2-raw/wiki.test.raw" --context 8192 --batch 8 \
      --attention-backend math_fp32 --device cuda --dtype fp32
  $sv nll --model "$OUTDIR/model" --data "$DATA/ptb/ptb.test.txt" --context 8192 --batch 8 \
      --attention-backend math_fp32 --device cuda --dtype fp32
  for b in fp16 sage_int8; do
    $sv nll --model "$OUTDIR/model" --data "$DATA/wikitext-2-raw/wiki.test.raw" --context 8192 --batch 8 \
        --attention-backend $b --device cuda --dtype fp16
  done
  $sv nll --model "$OUTDIR/model" --data "$DATA/wikitext-2-raw/wiki.test.raw" --max-bytes 4096 --context 1024 \
      --attention-backend math --device cpu --dtype fp32
  $sv generate --model "$OUTDIR/model" --prompt "The history of the" --max-new-tokens 120 --attention-backend fp16 \
      --device cuda
} 2>&1 | tee "$OUTDIR/nll.log"
