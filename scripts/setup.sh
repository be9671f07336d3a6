#!/usr/bin/env bash
# Installs what sageval needs to build and test, where it is missing.
#   Debian/Ubuntu: cmake, ninja, g++, GoogleTest, nlohmann_json, fmt, CLI11 and (when no libtorch is found
#   otherwise) Debian's CPU libtorch (libtorch-dev, 1.13) through apt; optionally (a failure is a warning)
#   python3-dev, pybind11-dev and Debian's python3-torch for the py: backends.
#   Elsewhere: prints what to install.
# --plots: also python3-matplotlib (the report's figures) where python3 cannot import matplotlib yet.
# --fuzz: also clang and its libFuzzer/sanitizer runtimes (scripts/fuzz.sh; Debian 12's clang is 14).
# A CUDA build needs a CUDA-enabled libtorch: pip install torch, then pass its CMake path, e.g.
#   TORCH_CMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') scripts/run_tests.sh
set -euo pipefail

plots=0 fuzz=0
for a in "$@"; do
  case "$a" in
    --plots) plots=1 ;;
    --fuzz) fuzz=1 ;;
    *) echo "setup: unknown option $a" >&2; exit 2 ;;
  esac
done

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

torch_from_pip() {
  [ -n "${TORCH_CMAKE_PREFIX_PATH:-}" ] && [ -f "${TORCH_CMAKE_PREFIX_PATH}/Torch/TorchConfig.cmake" ]
}

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  wanted=(cmake ninja-build g++ libgtest-dev nlohmann-json3-dev libfmt-dev libcli11-dev)
  # Debian's libtorch calls the system BLAS; without OpenBLAS that is the reference BLAS, about 15x slower on
  # the model tests (measured: 62 s against 4.4 s for the default model's CI slice).
  torch_from_pip || wanted+=(libtorch-dev libopenblas0-pthread)
  if [ $plots = 1 ] && ! python3 -c 'import matplotlib' >/dev/null 2>&1; then wanted+=(python3-matplotlib); fi
  if [ $fuzz = 1 ]; then wanted+=(clang libclang-rt-14-dev); fi
  # Optional: py:MODULE:FUNCTION backends embed Python (cmake/python_backends.cmake), Debian's torch for Debian's
  # libtorch. Without them the build goes on without py: backends and their tests skip, saying why.
  optional=(python3-dev pybind11-dev)
  torch_from_pip || optional+=(python3-torch)
  missing=() missing_optional=()
  for p in "${wanted[@]}"; do have_pkg "$p" || missing+=("$p"); done
  for p in "${optional[@]}"; do have_pkg "$p" || missing_optional+=("$p"); done
  if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
    echo "setup: all packages present (${wanted[*]} ${optional[*]})"
    exit 0
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      [ ${#missing[@]} -eq 0 ] && { echo "setup: without root, not installing the optional ${missing_optional[*]}"; exit 0; }
      echo "setup: need root or sudo to apt-get install ${missing[*]}" >&2
      exit 1
    fi
    SUDO=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || [ ${#missing[@]} -eq 0 ]
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_optional[@]} -gt 0 ]; then
    echo "setup: installing the optional ${missing_optional[*]}"
    $SUDO apt-get install -y -qq --no-install-recommends "${missing_optional[@]}" >/dev/null ||
      echo "setup: could not install ${missing_optional[*]}: no py: backends in this build" >&2
  fi
  echo "setup: done"
else
  cat >&2 <<'TXT'
setup: this is not a Debian/Ubuntu system, so nothing was installed. sageval needs:
  - CMake >= 3.24, a C++17 compiler, Ninja (optional)
  - libtorch (pip install torch; then TORCH_CMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)'))
  - GoogleTest, nlohmann_json >= 3.10, fmt, CLI11 >= 2.1, all findable by CMake's find_package
  - optional: the CUDA Toolkit (nvcc) to build the kernels
TXT
  exit 1
fi
