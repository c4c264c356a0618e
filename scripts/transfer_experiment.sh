#!/usr/bin/env bash
# Issue 26's transfer experiment on CIFAR-10 as an image folder (../shared/datasets/cifar10): cifar-t
# pre-trained on the six animal classes, then fine-tuned with a new head on the four vehicle classes it
# never saw, against the same architecture trained from scratch on the vehicles, at FT_EPOCHS epochs and
# at a fifth of them; and one fine-tuning run at 48 pixels (the position embedding resampled from 8x8
# to 12x12 patches). Every run uses the same flags but its start. Prints each run's test accuracy per
# epoch (metrics.csv) and a summary; the runs stay in OUT.
#
#   scripts/transfer_experiment.sh [OUT=runs/transfer] [PRE_EPOCHS=6] [FT_EPOCHS=5]   env: VIT (build/vit)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/transfer}
pre_epochs=${2:-6}
ft_epochs=${3:-5}
short=$(( ft_epochs / 5 > 0 ? ft_epochs / 5 : 1 ))
vit=${VIT:-build/vit}
data=../shared/datasets/cifar10
animals=bird,cat,deer,dog,frog,horse
vehicles=airplane,automobile,ship,truck
common=(--batch 128 --workers 2 --seed 0)
mkdir -p "$out"
run() {  # name, then vit train flags
    local name=$1
    shift
    echo "transfer: $name ($(date -u +%H:%M))" >&2
    rm -rf "${out:?}/$name"
    "$vit" train --data "$data" "${common[@]}" --output "$out/$name" "$@" 2> "$out/$name.log"
}
run animals --classes "$animals" --model-config cifar-t --epochs "$pre_epochs"
init=(--init-from "$out/animals/best.safetensors")
run vehicles-finetuned --classes "$vehicles" "${init[@]}" --epochs "$ft_epochs"
run vehicles-scratch --classes "$vehicles" --model-config cifar-t --epochs "$ft_epochs"
run vehicles-finetuned-short --classes "$vehicles" "${init[@]}" --epochs "$short"
run vehicles-scratch-short --classes "$vehicles" --model-config cifar-t --epochs "$short"
run vehicles-finetuned-48px --classes "$vehicles" "${init[@]}" --img-size 48 --epochs "$short"
echo "run,epoch,test_acc"
for name in animals vehicles-finetuned vehicles-scratch vehicles-finetuned-short vehicles-scratch-short vehicles-finetuned-48px; do
    awk -F, -v n="$name" 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "test_acc") c = i; next } { print n "," $1 "," $c }' \
        "$out/$name/metrics.csv"
done
