set -uo pipefail
source scripts/device/gpu_build_env.sh
bash scripts/build.sh > $OUT/build.log 2>&1 || { tail -40 $OUT/build.log; exit 1; }
timeout 200 build-gpu/tests/sageval_gpu_tests --gtest_filter='*SageInt8*:*sage_int8*:Sm90*:Kernels/*' > $OUT/gpu_tests.log 2>&1; echo "tests rc=$?"; grep -E "^\[  (PASSED|FAILED)" $OUT/gpu_tests.log | head -5
f='Shapes/SageInt8VsMath.Accuracy/*Q65_K65*:Shapes/SageInt8VsMath.Accuracy/*Q1_K1000*:Shapes/SageInt8VsMath.Accuracy/*Q1000_K65_*GQA4*:Kernels/CudaMisalignedViews.*sage*'
for tool in memcheck racecheck synccheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 build-gpu/tests/sageval_gpu_tests --gtest_filter="$f" > $OUT/san_$tool.log 2>&1
  echo "sanitizer $tool rc=$? $(grep -E 'ERROR SUMMARY|PASSED|FAILED' $OUT/san_$tool.log | tr '\n' ' ')"
done
for d in 128 64; do
timeout 120 ncu --clock-control none --kernel-name regex:attention_int8_sm90 --launch-skip 2 --launch-count 1 --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis --section Occupancy --section LaunchStats build-gpu/bench/sageval_attention_bench --head-dim $d --seq 16384 --warmup 1 --iters 2 > $OUT/ncu_d$d.txt 2>&1; echo "ncu $d rc=$?"
done
grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Issue Slots Busy|Executed Ipc|Stall|Warp Cycles Per Issued|One or More|No Eligible" $OUT/ncu_d128.txt | head -30
