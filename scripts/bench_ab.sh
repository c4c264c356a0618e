#!/usr/bin/env bash
# Two builds of `vit` side by side, alternating A B A B ... on the same cases, so that a refactor can
# show it changed nothing in speed on a shared, noisy machine: prints each run's images/s and, per
# case, the median of B / A.
#
# usage: scripts/bench_ab.sh VIT_A VIT_B [ROUNDS=5] [THREADS=2]
#   e.g. scripts/bench_ab.sh ../old/build/vit build/vit 5 2
set -euo pipefail
a=$1 b=$2 rounds=${3:-5} threads=${4:-2}
ips() { sed -n 's/.*"img_per_s": *\([0-9.]*\).*/\1/p'; }
cases=(
    "infer vit_tiny_patch16_224 1 f32"
    "infer vit_tiny_patch16_224 32 f32"
    "infer vit_base_patch16_224 1 f32"
    "infer cifar-t 128 f32"
    "infer cifar-t 128 int8"
    "train cifar-t 128 f32"
)
for c in "${cases[@]}"; do
    read -r mode config batch dtype <<<"$c"
    flag=()
    [[ $mode == train ]] && flag=(--train)
    ratios=()
    for ((r = 0; r < rounds; ++r)); do
        ia=$("$a" bench --model-config "$config" --batch "$batch" --threads "$threads" --reps 3 --dtype "$dtype" "${flag[@]}" | ips)
        ib=$("$b" bench --model-config "$config" --batch "$batch" --threads "$threads" --reps 3 --dtype "$dtype" "${flag[@]}" | ips)
        ratios+=("$(awk -v x="$ia" -v y="$ib" 'BEGIN { printf "%.3f", y / x }')")
        echo "$mode $config b$batch $dtype round $((r + 1)): A $ia img/s, B $ib img/s" >&2
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "$mode $config batch $batch $dtype: B / A median $median over $rounds rounds (${ratios[*]})"
done
