#!/usr/bin/env bash
# One quick call on the GPU machine while working on a kernel: build (SAGEVAL_TARGETS narrows it), run the
# sage_int8 / sm90 GPU tests (skipped when TESTS=0; FILTER overrides the gtest filter) and the kernel benchmark
# on a few shapes (DIMS, SEQS). Logs under $OUT. The full GPU pass is run_gpu_suite.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
device_build || exit 1
run_kernel_tests
timeout 300 build-gpu/bench/sageval_attention_bench --head-dim "${DIMS:-128,64}" --seq "${SEQS:-1024,4096,16384}" \
  --warmup 3 --iters 10 --json "$OUTDIR/bench.json" > "$OUTDIR/bench.txt" 2>&1
echo "bench rc=$?"
grep -A20 "^TOPS" "$OUTDIR/bench.txt"
# Instruction mix of the sm90 kernel (D = 128, fp16, not causal): tensor, SFU and conversion counts at a glance.
sm90_sass_mix
# NCU=1: where the sm90 kernel's warps wait (D = 128, N = 16K, not causal): stall reasons per issued instruction,
# tensor-pipe and L2 figures.
if [ "${NCU:-0}" = 1 ]; then
  timeout 200 ncu --clock-control none --kernel-name regex:attention_int8_sm90 --launch-skip 2 --launch-count 1 \
    --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,sm__inst_executed_pipe_tensor_op_gmma.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,lts__t_bytes.sum.per_second,l1tex__m_xbar2l1tex_read_bytes.sum.per_second,smsp__issue_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum' \
    build-gpu/bench/sageval_attention_bench --head-dim 128 --seq 16384 --warmup 1 --iters 2 > "$OUTDIR/ncu.txt" 2>&1
  echo "ncu rc=$?"
  sed -n '/attention_int8_sm90_kernel/,$p' "$OUTDIR/ncu.txt" | grep -E '^ +[a-z]' | awk '$NF+0 > 0.05 || /tensor|lts|xbar|issue_active|duration/' | sed 's/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//'
fi
