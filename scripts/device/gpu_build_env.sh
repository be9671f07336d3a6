# Sourced by the device scripts: build against the pip CUDA libtorch into build-gpu, for the device's sm_90a only
# (CI compiles every architecture), $OUT (or ./device_out) for what comes back.
export TORCH_CMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
export SAGEVAL_BUILD_DIR=build-gpu SAGEVAL_JOBS="${SAGEVAL_JOBS:-16}"
export SAGEVAL_CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90a-real ${SAGEVAL_EXTRA_CMAKE_ARGS:-}"
OUTDIR="${OUT:-$PWD/device_out}"
mkdir -p "$OUTDIR"
