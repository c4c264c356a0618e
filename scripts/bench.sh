#!/usr/bin/env bash
# Speed side by side with the PyTorch anchor (../shared/anchor), in one run on one machine: for each
# case, `vit bench` then the anchor's bench_infer.py / bench_train.py, one JSON line each, and the
# ratio. Needs the anchor's packages (python3-torch, python3-numpy: see ../shared/anchor/README.md).
#   scripts/bench.sh [THREADS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
reps=${2:-5}
anchor=${ANCHOR:-../shared/anchor}
[[ -x build/vit ]] || scripts/setup.sh >&2
[[ -f "$anchor/bench_infer.py" ]] || { echo "bench: no PyTorch anchor at $anchor" >&2; exit 1; }

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE hold OpenBLAS to old kernels on these machines: unset for the anchor.
anchor_run() { (cd "$anchor" && env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$@"); }
ips() { sed -n 's/.*"img_per_s": *\([0-9.]*\).*/\1/p'; }

compare() {  # MODE CONFIG BATCH
    local mode=$1 config=$2 batch=$3 ours theirs flag=() script=bench_infer.py
    [[ $mode == train ]] && flag=(--train) && script=bench_train.py
    ours=$(build/vit bench --model-config "$config" --batch "$batch" --threads "$threads" --reps "$reps" "${flag[@]}")
    theirs=$(anchor_run "$script" "$config" "$batch" "$threads" "$reps")
    echo "vit:     $ours"
    echo "pytorch: $theirs"
    awk -v a="$(ips <<<"$ours")" -v b="$(ips <<<"$theirs")" -v m="$mode" -v c="$config" -v n="$batch" \
        'BEGIN { printf "ratio:   %s %s batch %s: vit / pytorch = %.2fx\n\n", m, c, n, a / b }'
}

compare infer vit_tiny_patch16_224 1
compare infer vit_tiny_patch16_224 32
compare infer vit_base_patch16_224 1
compare infer vit_base_patch16_224 32
compare infer cifar-t 128
compare train cifar-t 128
compare train fmnist-t 128
