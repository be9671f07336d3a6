#!/usr/bin/env bash
# A kernel change against its baseline in one call on the GPU machine, both timed in the same run (the machine's
# run-to-run spread, about 5%, hides smaller changes measured in separate calls). Here, before the call:
#   mkdir -p .device-ab && git diff -R HEAD -- kernels > .device-ab/to_baseline.diff   # carry .device-ab
# There: builds this tree (SAGEVAL_TARGETS, default the GPU tests and the kernel benchmark), runs the sage_int8 GPU
# tests (TESTS=0 skips them), applies the patch, builds the baseline's benchmark, then times baseline and change
# alternately, ROUNDS times each (DIMS, SEQS as dev_iterate.sh), and with NCU=1 times the quantization kernels of
# both with ncu. VARIANTS="a b" adds sides: .device-ab/v/a.patch applied on top of this tree (e.g. `diff -u --label
# a/F --label b/F F variant.cu`), the benchmark rebuilt alone, the patch taken back out; they are timed in the same
# rounds (results may be wrong: a variant that leaves a stage out is timing only). Logs and JSON under $OUT (the
# device tool returns a few files: keep VARIANTS short or drop --json). Afterwards build-gpu holds the last built
# side's objects: read the change's SASS from /tmp/ab/sm90_d128.sass, not from build-gpu.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
patch_file=.device-ab/to_baseline.diff
[ -s "$patch_file" ] || { echo "no $patch_file: see the header of $0"; exit 2; }
export SAGEVAL_TARGETS="${SAGEVAL_TARGETS:-sageval_gpu_tests sageval_attention_bench}"
device_build || exit 1
run_kernel_tests
mkdir -p /tmp/ab
cp build-gpu/bench/sageval_attention_bench /tmp/ab/change
# The change's sm90 kernel (D 128, fp16, not causal): instruction mix and highest register.
sm90_sass_mix
cp "$OUTDIR/sm90_d128.sass" /tmp/ab/sm90_d128.sass
sides="baseline change"
for v in ${VARIANTS:-}; do
  if patch -p1 --quiet < ".device-ab/v/$v.patch"; then
    SAGEVAL_TARGETS=sageval_attention_bench device_build && cp build-gpu/bench/sageval_attention_bench "/tmp/ab/$v" &&
      sides="$sides $v"
    patch -p1 -R --quiet < ".device-ab/v/$v.patch"
  else
    echo "variant $v: .device-ab/v/$v.patch does not apply; left out"
  fi
done
build_baseline sageval_attention_bench /tmp/ab/baseline || exit 1
for round in $(seq "${ROUNDS:-2}"); do
  for side in $sides; do
    timeout 240 /tmp/ab/$side --head-dim "${DIMS:-128,64}" --seq "${SEQS:-1024,4096,16384}" --warmup 3 --iters 10 \
      --json "$OUTDIR/$side.json" > /tmp/ab/run.txt 2>&1
    rc=$?
    { echo "== $side, round $round (rc=$rc)"; cat /tmp/ab/run.txt; } >> "$OUTDIR/ab_runs.txt"
    echo "== $side, round $round (rc=$rc)"
    grep -A20 "^TOPS" /tmp/ab/run.txt | cut -c1-80 | grep -E "^ +[0-9]|^ +D "
  done
done
if [ "${NCU:-0}" = 1 ]; then
  for side in baseline change; do
    echo "== ncu, quantization kernels, $side (D 128, N 4096, B*N = 32768, fp16)"
    timeout 120 ncu --clock-control none --kernel-name regex:'kv_stats|kv_finalize|k_quant|q_quant' --launch-count 4 \
      --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
      /tmp/ab/$side --head-dim 128 --seq 4096 --warmup 0 --iters 1 > /tmp/ab/ncu.txt 2>&1
    cat /tmp/ab/ncu.txt >> "$OUTDIR/ncu_quant.txt"
    grep -E "^  [a-z_]+.*(kv_stats|kv_finalize|k_quant|q_quant)|gpu__time|dram__" /tmp/ab/ncu.txt |
      sed -E 's/\(QkvPointers.*|\(SageInt8Workspace.*//'
  done
fi
