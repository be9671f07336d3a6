#!/usr/bin/env bash
# Configures and builds sageval into ${SAGEVAL_BUILD_DIR:-build}. Uses TORCH_CMAKE_PREFIX_PATH for a pip
# libtorch (GPU machines); otherwise CMake finds the system one (Debian's libtorch-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${SAGEVAL_BUILD_DIR:-build}"
args=(-S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null 2>&1 && args+=(-G Ninja)
[ -n "${TORCH_CMAKE_PREFIX_PATH:-}" ] && args+=("-DCMAKE_PREFIX_PATH=${TORCH_CMAKE_PREFIX_PATH}")
# Keep a generator chosen earlier for this build directory.
[ -f "$BUILD_DIR/CMakeCache.txt" ] && args=(-S . -B "$BUILD_DIR")
cmake "${args[@]}" ${SAGEVAL_CMAKE_ARGS:-}
# SAGEVAL_TARGETS (space-separated) builds only those targets, e.g. the benchmark while tuning a kernel.
targets=()
for t in ${SAGEVAL_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j "${SAGEVAL_JOBS:-$(nproc)}" "${targets[@]}"
