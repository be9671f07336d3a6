#!/usr/bin/env bash
# Run here (not on the GPU machine): copies the header-only dependencies the GPU machine's image may lack (CLI11,
# from Debian's libcli11-dev) into .device-deps/ (git-ignored), which the device scripts add to CMake's prefix
# path, and the source's commit. Name .device-deps in the device call's `carry`.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d /usr/include/CLI ] || bash scripts/setup.sh
rm -rf .device-deps/cli11
mkdir -p .device-deps/cli11/include .device-deps/cli11/share/cmake
cp -r /usr/include/CLI .device-deps/cli11/include/
cp -r /usr/share/cmake/CLI11 .device-deps/cli11/share/cmake/
# The source's commit, for the reports made there (the copied tree's git metadata can be older than the tree):
# run this script again before each device call; gpu_build_env.sh exports it as SAGEVAL_COMMIT.
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD || commit="$commit (with local changes)"
echo "$commit" > .device-deps/source_commit
echo "staged: $(du -sh .device-deps | cut -f1) in .device-deps (source commit $commit)"
