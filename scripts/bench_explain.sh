#!/usr/bin/env bash
# images/s of every `vit explain` method at batch 64 on the shipped cifar-t: each method explains the
# same CIFAR-10 test images (panels at --size 32, so drawing costs little), wall time of the whole run
# (decoding, the class's forward pass, the map, the panel), and its CPU time (user + system, all
# threads), which moves less than the wall time on a machine shared with other work: images per
# CPU-second. `vit classify` on the same images is the floor. RISE runs on fewer images (it costs
# --samples forward passes per image).
#   scripts/bench_explain.sh [IMAGES] [RISE_IMAGES] [THREADS]     (VIT=path/to/vit for another build)
set -euo pipefail
cd "$(dirname "$0")/.."
images=${1:-1000}
rise_images=${2:-128}
threads=${3:-2}
model=models/cifar-t.safetensors
data=../shared/datasets/cifar10/test/airplane
vit=${VIT:-build/vit}
[[ -x $vit ]] || scripts/setup.sh >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/in" "$tmp/rise"
find "$data" -type f | sort | head -n "$images" | xargs -I{} cp {} "$tmp/in/"
find "$data" -type f | sort | head -n "$rise_images" | xargs -I{} cp {} "$tmp/rise/"

timed() {  # LABEL COUNT COMMAND...: label, images, wall seconds, images/s, CPU seconds, images per CPU-second
    local label=$1 count=$2 wall user sys
    shift 2
    /usr/bin/time -o "$tmp/time" -f "%e %U %S" "$@" > /dev/null 2>&1
    read -r wall user sys < "$tmp/time"
    awk -v l="$label" -v n="$count" -v w="$wall" -v u="$user" -v s="$sys" \
        'BEGIN { printf "%-26s %5d images %8.2f s %9.1f images/s %8.2f cpu-s %9.1f images/cpu-s\n", l, n, w, n / w, u + s, n / (u + s) }'
}

timed classify "$images" "$vit" classify --model "$model" --batch 64 --threads "$threads" "$tmp/in"
for method in rollout last-attention grad-rollout chefer2021 chefer2021-lrp attnlrp occlusion \
    grad-rollout-x-occlusion; do
    timed "$method" "$images" "$vit" explain --model "$model" --method "$method" --size 32 --batch 64 \
        --threads "$threads" --output "$tmp/out-$method" "$tmp/in"
done
timed "rise (500 samples)" "$rise_images" "$vit" explain --model "$model" --method rise --size 32 --batch 64 \
    --threads "$threads" --output "$tmp/out-rise" "$tmp/rise"
