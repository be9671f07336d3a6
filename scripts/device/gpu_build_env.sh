# Sourced by the device scripts: build against the pip CUDA libtorch into build-gpu, for the device's sm_90a only
# (CI compiles every architecture), $OUT (or ./device_out) for what comes back.
export TORCH_CMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
# CLI11 where the image lacks it: staged here by scripts/device/stage_deps.sh and carried as .device-deps.
if [ ! -d /usr/share/cmake/CLI11 ] && [ -d .device-deps/cli11 ]; then
  export TORCH_CMAKE_PREFIX_PATH="$TORCH_CMAKE_PREFIX_PATH;$PWD/.device-deps/cli11"
fi
export SAGEVAL_BUILD_DIR=build-gpu SAGEVAL_JOBS="${SAGEVAL_JOBS:-16}"
export SAGEVAL_CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90a-real ${SAGEVAL_EXTRA_CMAKE_ARGS:-}"
OUTDIR="${OUT:-$PWD/device_out}"
mkdir -p "$OUTDIR"
