#!/usr/bin/env bash
# Where the sm90 kernel's warps stall, instruction by instruction: ncu's full set on one launch (D 128, N 16K,
# not causal, fp16, B*N = 32768) with the per-SASS-instruction stall samples exported as CSV, and the summary
# sections as text. Outputs under $OUT: profile_source.csv (one row per SASS instruction), profile_details.txt,
# profile.ncu-rep.gz (for the Nsight Compute GUI). SEQ and DIM change the shape.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
SAGEVAL_TARGETS=sageval_attention_bench device_build || exit 1
rep=/tmp/sm90_profile
rm -f $rep.ncu-rep
timeout 400 ncu --clock-control none --set full --import-source no --kernel-name regex:attention_int8_sm90 \
  --launch-skip 2 --launch-count 1 -o $rep build-gpu/bench/sageval_attention_bench --head-dim "${DIM:-128}" \
  --seq "${SEQ:-16384}" --warmup 1 --iters 2 > "$OUTDIR/profile_run.txt" 2>&1
echo "ncu rc=$?"
ncu -i $rep.ncu-rep --page source --csv --print-source sass > "$OUTDIR/profile_source.csv" 2> "$OUTDIR/profile_source.err"
echo "source page rc=$? ($(wc -l < "$OUTDIR/profile_source.csv") lines)"; head -c 600 "$OUTDIR/profile_source.err"
ncu -i $rep.ncu-rep --page details > "$OUTDIR/profile_details.txt" 2>&1
grep -E "Duration|Issue Slots Busy|Executed Ipc Active|Warp Cycles Per Issued|Registers Per|Achieved Occupancy" "$OUTDIR/profile_details.txt" | head -12
gzip -c $rep.ncu-rep > "$OUTDIR/profile.ncu-rep.gz"; ls -la "$OUTDIR"
