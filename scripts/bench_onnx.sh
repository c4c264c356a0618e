#!/usr/bin/env bash
# Speed of our exported ONNX files in ONNX Runtime (npm's onnxruntime-node) beside `vit bench`, in one
# run on one machine, alternating the two: cifar-t (models/cifar-t.safetensors) and
# vit_base_patch16_224 (random weights from `vit init`), one JSON line each and the ratio per pair.
#   scripts/bench_onnx.sh [THREADS] [REPS] [ROUNDS]      (BUILD_DIR=build-x for another build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
reps=${2:-5}
rounds=${3:-2}
build=${BUILD_DIR:-build}
scripts/install_onnxruntime.sh
[[ -x $build/vit ]] || cmake --build "$build" -j"$(nproc)" --target vit
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/vit" init --model-config vit_base_patch16_224 --output "$tmp/vit_base_patch16_224.safetensors" 2>/dev/null
"$build/vit" export --format onnx --model "$tmp/vit_base_patch16_224.safetensors" --output "$tmp/vit_base_patch16_224.onnx"
"$build/vit" export --format onnx --model models/cifar-t.safetensors --output "$tmp/cifar-t.onnx"
rm "$tmp/vit_base_patch16_224.safetensors"

ips() { sed -n 's/.*"img_per_s": *\([0-9.]*\).*/\1/p'; }
compare() {  # CONFIG SIZE BATCH
    local config=$1 size=$2 batch=$3 ours theirs
    ours=$("$build/vit" bench --model-config "$config" --batch "$batch" --threads "$threads" --reps "$reps")
    theirs=$(NODE_PATH=.cache/onnxruntime-node/node_modules node tests/onnx/bench_ort.js "$tmp/$config.onnx" 3 \
        "$size" "$size" "$batch" "$threads" "$reps")
    echo "vit:         $ours"
    echo "onnxruntime: $theirs"
    awk -v a="$(ips <<<"$ours")" -v b="$(ips <<<"$theirs")" -v c="$config" -v n="$batch" \
        'BEGIN { printf "ratio:       %s batch %s: vit / onnxruntime = %.2fx\n\n", c, n, a / b }'
}

for ((r = 1; r <= rounds; ++r)); do
    echo "# round $r"
    compare cifar-t 32 1
    compare cifar-t 32 128
    compare vit_base_patch16_224 224 1
    compare vit_base_patch16_224 224 32
done
