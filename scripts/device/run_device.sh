#!/usr/bin/env bash
# Builds the kernels and the harness with nvcc directly (sm_90a), prints each kernel's resource usage, then runs
# the correctness checks and the timings. Usage: scripts/device/run_device.sh [check|bench|quick ...]
# Logs go to $OUT (or ./device_out) when set.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUTDIR="${OUT:-$PWD/device_out}"
BUILD="${BUILD_DIR:-/tmp/sageval_build}"
mkdir -p "$OUTDIR" "$BUILD"
NVFLAGS=(-std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -Xcompiler -fopenmp)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv || true
nvcc --version | tail -1
pids=()
for f in kernels/quantize_int8.cu kernels/attention_fp16_sm80.cu kernels/attention_int8_sm80.cu kernels/kernel_tuning.cu \
         scripts/device/sage_harness.cu; do
  b=$(basename "$f" .cu)
  ( nvcc "${NVFLAGS[@]}" --resource-usage -c "$f" -o "$BUILD/$b.o" > "$BUILD/$b.res" 2>&1 || { cat "$BUILD/$b.res"; exit 1; } ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
nvcc "${NVFLAGS[@]}" "$BUILD"/*.o -o "$BUILD/sage_harness" -lgomp
DEMANGLE=$(command -v cu++filt || command -v c++filt || echo cat)
echo "== resource usage (registers, shared memory, spills) =="
for b in quantize_int8 attention_fp16_sm80 attention_int8_sm80; do
  grep -E "Function properties|spill|registers" "$BUILD/$b.res" | paste - - - |
    sed -E 's/.*Function properties for ([^ ]+).*stack frame, ([0-9]+) bytes spill stores, ([0-9]+) bytes spill loads.*Used ([0-9]+) registers(.*)/\1 regs=\4 spill_st=\2 spill_ld=\3 \5/' |
    while read -r name rest; do echo "$(echo "$name" | "$DEMANGLE" | sed -E 's/sageval::kernels::\(anonymous namespace\):://; s/>\(.*/>/') $rest"; done
done | tee "$OUTDIR/resource_usage.txt"
"$BUILD/sage_harness" "$@" 2>&1 | tee "$OUTDIR/harness.log"
