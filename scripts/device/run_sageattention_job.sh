#!/usr/bin/env bash
# thu-ml SageAttention validated by sageval on the GPU machine (issue #16). Carry .device-ext (made here by
# scripts/device/stage_sageattention.sh), .device-deps and .device-data. Idempotent on a warm machine: the
# SageAttention build (build-gpu-ext/: both builds done in 255 s with SA_JOBS=12 and sageval's default 16
# jobs) and sageval's (build-gpu/) are kept and reused.
#   STAGE=check (default): both builds, the import, the py: bridge tests on CUDA (SDPA through Python against the
#                          C++ `sdpa` to the bit, the torch reference, the error cases) and the three SageAttention
#                          adapters over the kernel case table against math.
#   STAGE=bench:           the kernel benchmark with SageAttention's three entry points timed end to end beside
#                          sageval's kernels and SDPA (BENCH_SEQS, default 1024,4096,16384; both head dims), and
#                          the model benchmark's prefill with the H200 precision plan (issue #15's speed cost).
#   STAGE=main:            the main job with SageAttention's `sageattn` as the candidate: its report under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
STAGE=${STAGE:-check}
case "$STAGE" in check|bench|main) ;; *) echo "STAGE must be check, bench or main, got '$STAGE'"; exit 2 ;; esac
source scripts/device/gpu_build_env.sh
SA_SRC=.device-ext/SageAttention
SA_DIR=build-gpu-ext/SageAttention
[ -f "$SA_SRC/setup.py" ] || { echo "no $SA_SRC: run scripts/device/stage_sageattention.sh here and carry .device-ext"; exit 1; }
t0=$(date +%s)
sa_pid=""
# A build brought back from an earlier call ($OUT/sageattention_built.tar.gz, its extension modules) and carried in
# .device-ext is unpacked instead of building again, when it was built from the same commit.
SA_PREBUILT=.device-ext/sageattention_built.tar.gz
if [ ! -f "$SA_DIR/.built" ]; then
  rm -rf "$SA_DIR" && mkdir -p build-gpu-ext && cp -r "$SA_SRC" "$SA_DIR"
  if [ -f "$SA_PREBUILT" ] && tar -xzf "$SA_PREBUILT" -C "$SA_DIR" && cmp -s "$SA_DIR/COMMIT" "$SA_DIR/COMMIT.built"; then
    touch "$SA_DIR/.built"
    echo "SageAttention: the extension modules built earlier from this commit, unpacked"
  else
    ( cd "$SA_DIR" && TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=${SA_JOBS:-12} python3 setup.py build_ext --inplace \
        > "$OUTDIR/sageattention_build.log" 2>&1 && cp COMMIT COMMIT.built && touch .built \
        && tar -czf "$OUTDIR/sageattention_built.tar.gz" COMMIT.built sageattention/*.so ) &
    sa_pid=$!
  fi
fi
device_build || exit 1
grep -E "sageval: (py:|no py:)" "$OUTDIR/build.log"
if [ -n "$sa_pid" ]; then
  wait "$sa_pid" || { echo "SageAttention build failed:"; tail -40 "$OUTDIR/sageattention_build.log"; exit 1; }
fi
echo "builds done: $(( $(date +%s) - t0 )) s (SageAttention $(cat "$SA_DIR/COMMIT"))"
export PYTHONPATH="$PWD/$SA_DIR${PYTHONPATH:+:$PYTHONPATH}"
python3 -c "import sageattention, torch; print('sageattention imported from', sageattention.__file__, '| torch', torch.__version__)" || exit 1
ADAPTERS="sageattn qk_int8_pv_fp16_cuda qk_int8_pv_fp8_cuda_sm90"
if [ "$STAGE" = check ]; then
  build-gpu/tests/sageval_gpu_tests --gtest_filter='*PythonSdpaVsCppSdpa*:*PythonReferenceVsMath*:*PythonBackendErrors*' \
    > "$OUTDIR/python_bridge_cuda.log" 2>&1
  echo "py: bridge tests on CUDA: rc=$?"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests? ran" "$OUTDIR/python_bridge_cuda.log" | head -20
  for a in $ADAPTERS; do
    SAGEVAL_REPORT_DIR=build-gpu/report_adapters timeout 300 build-gpu/tests/sageval_gpu_tests \
      --attention-backend "py:sageval_adapters.sageattention:$a" --gtest_filter='*CandidateVsMath*' > "$OUTDIR/adapter_$a.log" 2>&1
    echo "adapter $a over the case table: rc=$?"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests? ran" "$OUTDIR/adapter_$a.log" | head -8
  done
  tar -czf "$OUTDIR/adapter_logs.tar.gz" -C "$OUTDIR" $(cd "$OUTDIR" && ls adapter_*.log python_bridge_cuda.log) -C "$PWD/build-gpu" report_adapters
  rm -f "$OUTDIR"/adapter_*.log
fi
if [ "$STAGE" = bench ]; then
  backends=$(for a in $ADAPTERS; do printf 'py:sageval_adapters.sageattention:%s,' "$a"; done)
  timeout 300 build-gpu/bench/sageval_attention_bench --head-dim 128,64 --seq "${BENCH_SEQS:-1024,4096,16384}" \
    --warmup 3 --iters 10 --backends "${backends%,}" --json "$OUTDIR/kernel_bench_sageattention.json" \
    > "$OUTDIR/kernel_bench_sageattention.log" 2>&1
  echo "kernel benchmark with SageAttention: rc=$?"; sed -n '/^ext1/,$p' "$OUTDIR/kernel_bench_sageattention.log"
  timeout 200 build-gpu/bench/sageval_model_bench --backends fp16,sage_int8,sdpa \
    --precision-plan docs/reports/h200_precision_plan/precision_plan.json --lengths 2048,8192 --batches 1 \
    --decode-lengths 512 --decode-batches 1 --memory-lengths 2048 --iters 10 --warmup 2 \
    --json "$OUTDIR/model_bench_plan.json" > "$OUTDIR/model_bench_plan.log" 2>&1
  echo "model benchmark with the precision plan: rc=$?"; grep -E "^prefill" "$OUTDIR/model_bench_plan.log"
fi
if [ "$STAGE" = main ]; then
  t1=$(date +%s)
  timeout "${JOB_TIMEOUT:-500}" build-gpu/src/sageval validate --data .device-data \
    --attention-backend py:sageval_adapters.sageattention:sageattn --report-dir build-gpu/report_sageattention \
    > "$OUTDIR/main_job_sageattention.log" 2>&1
  echo "main job (candidate: SageAttention sageattn): rc=$? wall $(( $(date +%s) - t1 )) s"
  grep -E '^== |verdict|report:' "$OUTDIR/main_job_sageattention.log"
  cp build-gpu/report_sageattention/REPORT*.md "$OUTDIR/" 2>/dev/null
  tar -czf "$OUTDIR/report_sageattention.tar.gz" -C build-gpu report_sageattention
fi
