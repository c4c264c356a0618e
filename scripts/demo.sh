#!/usr/bin/env bash
# Classifies the sample images with the bundled model. Its weights are RANDOM (see models/README.md),
# so the labels it prints are meaningless: this shows the pipeline working, not accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/vit ]] || scripts/setup.sh
echo "demo: models/random-cifar-t.safetensors has random weights; its predictions are arbitrary" >&2
build/vit classify --model models/random-cifar-t.safetensors "$@" datasets/samples
