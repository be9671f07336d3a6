#!/usr/bin/env bash
# Installs the build in $1 into a fresh prefix, builds tests/consumer against it with find_package(sageval)
# and runs it. Usage: build_and_run.sh BUILD_DIR [CMAKE_PREFIX_PATH of the dependencies]
set -euo pipefail
build=$(cd "$1" && pwd)
work="$build/consumer-check"
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work.install.log" 2>&1 || { cat "$work.install.log"; exit 1; }
generator=(); command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$(dirname "$0")" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix${2:+;$2}"
cmake --build "$work/build"
"$work/build/sageval_consumer"
