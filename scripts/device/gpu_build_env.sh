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
