#!/usr/bin/env bash
# The training data path alone, ours against PyTorch's, alternating, on one image folder: our
# vit_loader_bench (streamed from disk, random resized crop, flip, RandAugment at SIZE, WORKERS threads)
# and PyTorch's DataLoader with timm's own create_transform and WORKERS worker processes
# (scripts/bench_loader_torch.py; Debian's python3-torch and python3-torchvision, and timm's source on
# PYTHONPATH, e.g. a fetched pytorch-image-models). One JSON line per run on stdout.
#
#   TIMM=PATH scripts/bench_loader.sh FOLDER [ROUNDS=2] [SIZE=224] [BATCH=64] [WORKERS=2] [BATCHES=40]
set -euo pipefail
cd "$(dirname "$0")/.."
folder=$1
rounds=${2:-2}
size=${3:-224}
batch=${4:-64}
workers=${5:-2}
batches=${6:-40}
build=${BUILD_DIR:-build}
[[ -n ${TIMM:-} ]] || { echo "bench_loader: set TIMM to a folder holding timm's source (the timm/ package)" >&2; exit 1; }
[[ -x $build/vit_loader_bench ]] || cmake --build "$build" --target vit_loader_bench >&2
for ((r = 1; r <= rounds; ++r)); do
    echo "# round $r of $rounds ($(uptime))" >&2
    "$build/vit_loader_bench" "$folder" "$size" "$batch" "$workers" "$batches"
    PYTHONPATH=$TIMM env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/bench_loader_torch.py \
        "$folder" "$size" "$batch" "$workers" "$batches"
done
