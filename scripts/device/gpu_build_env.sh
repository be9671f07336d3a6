# Sourced by the device scripts: build against the pip CUDA libtorch into build-gpu, for the device's sm_90a only
# (CI compiles every architecture), $OUT (or ./device_out) for what comes back.
export TORCH_CMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
# CLI11 where the image lacks it: staged here by scripts/device/stage_deps.sh and carried as .device-deps.
if [ ! -d /usr/share/cmake/CLI11 ] && [ -d .device-deps/cli11 ]; then
  export TORCH_CMAKE_PREFIX_PATH="$TORCH_CMAKE_PREFIX_PATH;$PWD/.device-deps/cli11"
fi
# The commit the reports name: the one stage_deps.sh wrote here, unless the command gives SAGEVAL_COMMIT.
if [ -z "${SAGEVAL_COMMIT:-}" ] && [ -f .device-deps/source_commit ]; then
  export SAGEVAL_COMMIT=$(cat .device-deps/source_commit)
fi
export SAGEVAL_BUILD_DIR=build-gpu SAGEVAL_JOBS="${SAGEVAL_JOBS:-16}"
export SAGEVAL_CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90a-real ${SAGEVAL_EXTRA_CMAKE_ARGS:-}"
OUTDIR="${OUT:-$PWD/device_out}"
mkdir -p "$OUTDIR"
# The build every device script starts with: scripts/build.sh into build-gpu (SAGEVAL_TARGETS for a subset), its
# log in $OUTDIR/build.log; prints the time, or the log's tail and returns 1.
device_build() {
  local t0
  t0=$(date +%s)
  bash scripts/build.sh > "$OUTDIR/build.log" 2>&1 || { tail -60 "$OUTDIR/build.log"; return 1; }
  echo "build: $(( $(date +%s) - t0 )) s"
}
# The baseline of a same-run A/B (ab_bench.sh, ab_decode.sh): applies .device-ab/to_baseline.diff, builds TARGET
# alone, copies its binary (build-gpu/bench/TARGET) to DEST and takes the patch back out. Returns 1 (saying why)
# when the patch does not apply or the build fails.
build_baseline() {
  local target=$1 dest=$2 patch_file=.device-ab/to_baseline.diff
  patch -p1 --quiet < "$patch_file" || { echo "the patch does not apply"; return 1; }
  SAGEVAL_TARGETS=$target device_build || { patch -p1 -R --quiet < "$patch_file"; return 1; }
  cp "build-gpu/bench/$target" "$dest"
  patch -p1 -R --quiet < "$patch_file"
}
# The sage_int8 / sm90 GPU tests a kernel change must pass (FILTER overrides the gtest filter), their log in
# $OUTDIR/gpu_tests.log; prints the summary and the first failures. TESTS=0 skips them.
run_kernel_tests() {
  [ "${TESTS:-1}" = 1 ] || return 0
  timeout 300 build-gpu/tests/sageval_gpu_tests --gtest_filter="${FILTER:-*SageInt8*:*sage_int8*:Sm90*:Kernels/*}" \
    > "$OUTDIR/gpu_tests.log" 2>&1
  echo "tests rc=$?"
  grep -E "^\[  (PASSED|FAILED|SKIPPED) +\]" "$OUTDIR/gpu_tests.log" | head -3
  grep -E "^\[  FAILED" "$OUTDIR/gpu_tests.log" | head -8
  grep -B2 -A6 -m3 "Failure" "$OUTDIR/gpu_tests.log" | cut -c1-300
}
# The sm90 kernel's SASS (D = 128, fp16, not causal) into $OUTDIR/sm90_d128.sass, then one line: its instruction
# count, the highest register it names (after setmaxnreg.inc the consumers may use more than the launch bound's
# 128) and its instruction mix, most frequent first (tensor HGMMA/IGMMA, SFU MUFU, conversions at a glance).
sm90_sass_mix() {
  local obj=build-gpu/kernels/CMakeFiles/sageval_kernels.dir/attention_int8_sm90.cu.o sass="$OUTDIR/sm90_d128.sass"
  [ -f "$obj" ] || { echo "no $obj"; return 1; }
  cuobjdump -sass "$obj" 2>/dev/null |
    awk '/Function :.*attention_int8_sm90_kernelILi128ELb0ELb0E/{f=1;next} /Function :/{f=0} f' > "$sass"
  echo "sm90 D128 kernel: $(grep -c '/\*[0-9a-f]\{4\}\*/' "$sass") instructions, highest register" \
       "R$(grep -oE '\bR[0-9]+\b' "$sass" | tr -d R | sort -n | tail -1)"
  grep -oE '/\*[0-9a-f]{4,}\*/ +(@!?U?P[0-9T] +)?[A-Z][A-Z0-9_.]*' "$sass" | awk '{print $NF}' | sed 's/\..*//' |
    sort | uniq -c | sort -rn | head -24 | tr '\n' ' '
  echo
}
