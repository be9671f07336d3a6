#!/usr/bin/env bash
# A decode kernel change against its baseline in one call on the GPU machine (issue #17), as ab_bench.sh does for
# the prefill kernels. Here, before the call:
#   mkdir -p .device-ab && git diff -R BASE -- kernels > .device-ab/to_baseline.diff   # carry .device-ab
# There: builds this tree (the GPU tests, the model GPU tests, the decode benchmark), runs the decode kernel tests
# and the model's decode and generation suites, applies the patch and builds the baseline's benchmark, times
# baseline and change alternately (ROUNDS, default 2; BENCH_ARGS the grid), then with ncu the kernels of one batch-1
# call per context (NCU_CONTEXTS, default 2048 8192 32768; NCU_CONTEXTS=none skips). Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/device/gpu_build_env.sh
export SAGEVAL_DATA_DIR="$PWD/.device-data"  # the model suites' data, carried along
patch_file=.device-ab/to_baseline.diff
[ -s "$patch_file" ] || { echo "no $patch_file: see the header of $0"; exit 2; }
SAGEVAL_TARGETS="sageval_gpu_tests sageval_model_gpu_tests sageval_decode_bench" device_build || exit 1
FILTER="${FILTER:-*Fp16DecodeKernel*:*KvLengthsOnCuda*:*Q1_K1000*}" run_kernel_tests
timeout 300 build-gpu/tests/sageval_model_gpu_tests --gtest_filter="${MODEL_FILTER:-Decode.*:Generation.*}" \
  > "$OUTDIR/model_gpu_tests.log" 2>&1
echo "model tests rc=$?"
grep -E "^\[  (PASSED|FAILED) +\]|decode (fp16|sage_int8):" "$OUTDIR/model_gpu_tests.log" | cut -c1-200 | head -8
mkdir -p /tmp/ab
cp build-gpu/bench/sageval_decode_bench /tmp/ab/change
build_baseline sageval_decode_bench /tmp/ab/baseline || exit 1
for round in $(seq "${ROUNDS:-2}"); do
  for side in baseline change; do
    timeout 200 /tmp/ab/$side ${BENCH_ARGS:---batches 1,8,32 --contexts 2048,8192,32768 --iters 50} \
      --json "$OUTDIR/decode_$side.json" > /tmp/ab/run.txt 2>&1
    rc=$?
    { echo "== $side, round $round (rc=$rc)"; cat /tmp/ab/run.txt; } >> "$OUTDIR/ab_runs.txt"
    echo "== $side, round $round (rc=$rc): fp16_decode eager, graph (us)"
    python3 - "$OUTDIR/decode_$side.json" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["shapes"]:
    v = s["variants"]
    t = lambda k: v[k]["timing"]["median_ms"] * 1e3 if v[k]["status"] == "ok" else float("nan")
    print(f"  B{s['batch']:>3} N{s['context']:>6}: {t('fp16_decode'):7.1f} {t('fp16_decode_graph'):7.1f}"
          f"  ({v['fp16_decode_graph'].get('fraction_of_copy', 0):.2f} of the copy; cudnn graph {t('sdpa_cudnn_graph'):.1f})")
PY
  done
done
[ "${NCU_CONTEXTS:-}" = none ] && exit 0
for side in baseline change; do
  for c in ${NCU_CONTEXTS:-2048 8192 32768}; do
    timeout 120 ncu --clock-control none --kernel-name regex:'decode_' --launch-count 2 \
      --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
      /tmp/ab/$side --batches 1 --contexts "$c" --warmup 0 --iters 1 > /tmp/ab/ncu.txt 2>&1
    cat /tmp/ab/ncu.txt >> "$OUTDIR/ncu_decode.txt"
    echo "== ncu $side, batch 1, context $c"
    grep -E "^  [a-z ]+.*decode_|gpu__time|dram__" /tmp/ab/ncu.txt | sed -E 's/\(.*DecodeParams\)//' | cut -c1-110
  done
done
