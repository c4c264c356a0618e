#!/usr/bin/env bash
# Classifies the sample images with the bundled CIFAR-10 model (models/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/vit ]] || scripts/setup.sh
echo "demo: classifying datasets/samples with the CIFAR-10 model models/cifar-t-randaug.safetensors" >&2
build/vit classify --model models/cifar-t-randaug.safetensors "$@" datasets/samples
