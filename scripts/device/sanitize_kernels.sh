#!/usr/bin/env bash
# compute-sanitizer over every kernel path on a grid of ragged and decode shapes, four tools (memcheck,
# racecheck, synccheck, initcheck), each a pass of build-gpu/tests/sageval_gpu_tests over the same cases: fp16
# and sage_int8 (the path this GPU takes) against their exact emulations, causal and not, D 64 and 128, GQA,
# Nq x Nk of 1 x 1000 (decode), 63 x 63, 65 x 65 and 1000 x 65; the sm80 path forced; the CUDA quantization; the
# misaligned and strided views; the split-KV decode kernel with and without kv_lengths. Logs under $OUTDIR
# (sourced scripts set it) as sanitizer_<tool>.log; one line per tool. Exit 1 when any tool reports an error.
# Expects a build in build-gpu (gpu_build_env.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUTDIR="${OUTDIR:-${OUT:-$PWD/device_out}}"
mkdir -p "$OUTDIR"
grid='Shapes/*VsEmulation.*/*_Q1_K1000_*GQA4*:Shapes/*VsEmulation.*/*_Q63_K63_*GQA1*'
grid+=':Shapes/*VsEmulation.*/*_Q65_K65_*GQA4*:Shapes/*VsEmulation.*/*_Q1000_K65_*GQA4*'
grid+=':Shapes/SageInt8Granularity.*/*_Q65_K65_*GQA4*_sage_int8_qwarp_sm80:Inputs/SageInt8CudaQuantization.*:Kernels/CudaMisalignedViews.*'
# the split-KV decode kernel: a part tile and idle warps (two CTAs per kv head, merged), 16 query rows, one CTA per
# kv head (384 heads: no merge kernel), and device-side kv_lengths (0, 1, part)
grid+=':Shapes/Fp16DecodeKernel.*/D128_Q1_K300_*:Shapes/Fp16DecodeKernel.*/D64_Q16_K777_*:Shapes/Fp16DecodeKernel.*/D64_Q2_K500_*:*KvLengthsOnCuda.*'
failed=0
for tool in memcheck racecheck synccheck initcheck; do
  t=$(date +%s)
  timeout "${SANITIZER_TIMEOUT:-300}" compute-sanitizer --tool "$tool" --error-exitcode 9 \
    build-gpu/tests/sageval_gpu_tests --gtest_filter="$grid" > "$OUTDIR/sanitizer_$tool.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || failed=1
  echo "compute-sanitizer $tool: rc=$rc in $(( $(date +%s) - t )) s; $(grep -E 'ERROR SUMMARY|^\[  (PASSED|FAILED|SKIPPED) +\]' "$OUTDIR/sanitizer_$tool.log" | tr '\n' ' ')"
done
exit $failed
