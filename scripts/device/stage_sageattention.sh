#!/usr/bin/env bash
# Run here (not on the GPU machine): puts the parts of a thu-ml/SageAttention snapshot that its build needs
# (csrc, sageattention, setup.py, pyproject.toml, README.md, LICENSE) into .device-ext/SageAttention (git-ignored:
# never committed), with the snapshot's commit in COMMIT. The GPU machine has no network; name .device-ext in the
# device call's `carry`, and scripts/device/run_sageattention_job.sh builds it there.
# Usage: stage_sageattention.sh GIT_DIR   (a clone or mirror of github.com/thu-ml/SageAttention)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 GIT_DIR (a clone or mirror of github.com/thu-ml/SageAttention)" >&2; exit 2; }
src=$(cd "$1" && pwd)
cd "$(dirname "$0")/../.."
dest=.device-ext/SageAttention
rm -rf "$dest" && mkdir -p "$dest"
git -C "$src" archive HEAD csrc sageattention setup.py pyproject.toml README.md LICENSE | tar -x -C "$dest"
git -C "$src" rev-parse HEAD > "$dest/COMMIT"
echo "staged SageAttention $(cat "$dest/COMMIT") ($(du -sh "$dest" | cut -f1)) in $dest"
