set -uo pipefail
source scripts/device/gpu_build_env.sh
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; python3 -c 'import torch;print("torch", torch.__version__)'; nvcc --version | tail -1; } > $OUT/env.txt 2>&1
device_build || exit 1
grep -E "C75|spill" $OUT/build.log | head -3
timeout 240 build-gpu/tests/sageval_gpu_tests > $OUT/gpu_tests.log 2>&1; echo "gpu tests rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test' $OUT/gpu_tests.log | tr '\n' ' ')"
grep -E '^\[  FAILED  \]' $OUT/gpu_tests.log | head -5
bash scripts/device/sanitize_kernels.sh
cuobjdump -sass build-gpu/kernels/CMakeFiles/sageval_kernels.dir/attention_int8_sm90.cu.o | grep -oE "IGMMA\.[A-Z0-9x.]+|HGMMA\.[A-Z0-9x.]+|UTMALDG\.[0-9A-Z]+" | sort | uniq -c > $OUT/sass_mma.txt; cat $OUT/sass_mma.txt | tr '\n' ' '; echo
timeout 280 build-gpu/bench/sageval_attention_bench --warmup 3 --iters 10 --json $OUT/kernel_bench.json > $OUT/kernel_bench.txt 2>&1; echo "bench rc=$?"
grep -A30 "^TOPS" $OUT/kernel_bench.txt
# Model level: prefill of the default model per backend (the sm90 path's end-to-end effect).
timeout 120 build-gpu/bench/sageval_model_bench --lengths 2048,8192 --batches 1 --decode-lengths 512 --decode-batches 1 \
  --memory-lengths 2048 --iters 10 --warmup 2 --json $OUT/model_bench.json > $OUT/model_bench.txt 2>&1
echo "model bench rc=$?"; grep -iE "prefill|sage_int8|sdpa" $OUT/model_bench.txt | head -20
