#!/usr/bin/env bash
# Crash safety of `vit train`, tried the hard way.
#
# 1. SIGKILL at random moments: one run folder is trained again and again (with --resume once it has a
#    checkpoint) and killed after a random delay. After every kill, the checkpoint under its final name
#    (last.safetensors) must load (`vit eval` on it), and the next trial's --resume must continue from it
#    (a resumed run that fails exits by itself before it is killed, which counts as a failure).
# 2. A full disk: a file-size limit (ulimit -f, with SIGXFSZ ignored so that write() fails with EFBIG
#    instead of killing the process) smaller than a checkpoint. The run must stop with a clear error and
#    leave the previous checkpoint byte for byte intact and loadable.
#
# usage: scripts/kill_test.sh [VIT_BINARY] [TRIALS] [SEED]   (defaults: build/vit, 20, 1)
# Prints one line per trial and the counts at the end; exits 1 on the first failure.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
vit=$(realpath "${1:-$src/build/vit}")
trials=${2:-20}
RANDOM=${3:-1}  # seeds bash's generator: the delays repeat for a given seed
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vit_kill_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "kill_test: FAIL: $*" >&2
    exit 1
}

# A tiny image folder from the sample images: two classes, copies of four images each.
data=$tmp/data
for split in train test; do
    copies=4
    [ "$split" = test ] && copies=1
    for cls in animals vehicles; do mkdir -p "$data/$split/$cls"; done
    for f in "$src"/datasets/samples/cifar10/*.jpg; do
        name=$(basename "$f" .jpg)
        case $name in airplane* | automobile* | ship* | truck*) cls=vehicles ;; *) cls=animals ;; esac
        for i in $(seq 1 $copies); do cp "$f" "$data/$split/$cls/${name}_$i.jpg"; done
    done
done
config=$tmp/tiny.json
cat >"$config" <<'EOF'
{"img_size": 32, "patch_size": 8, "in_chans": 3, "num_classes": 2, "embed_dim": 16, "depth": 2,
 "num_heads": 2, "mlp_ratio": 2.0, "preprocess": {"crop_pct": 1.0}}
EOF
run=$tmp/run
# Epochs without end: every run is stopped by a signal, never by finishing.
train=("$vit" train --data "$data" --model-config "$config" --epochs 100000000 --batch 8 --workers 1
    --threads 1 --output "$run")
evaluate=("$vit" eval --data "$data" --batch 8 --threads 1 --model "$run/last.safetensors")

killed=0 ended_early=0 loaded=0 resumed=0 none_yet=0
for t in $(seq 1 "$trials"); do
    resume=()
    [ -f "$run/last.safetensors" ] && resume=(--resume) && resumed=$((resumed + 1))
    delay=$(printf '0.%03d' $((50 + RANDOM % 900)))  # 0.05 to 0.95 s
    "${train[@]}" "${resume[@]}" >"$tmp/train.out" 2>"$tmp/train.err" &
    pid=$!
    sleep "$delay"
    if kill -KILL "$pid" 2>/dev/null; then killed=$((killed + 1)); else ended_early=$((ended_early + 1)); fi
    status=0
    wait "$pid" 2>/dev/null || status=$?
    # 137 = 128 + SIGKILL. Anything else means the run ended by itself: a failed start or resume.
    [ "$status" -eq 137 ] || fail "trial $t: vit train ${resume[*]} exited with $status before the kill: $(cat "$tmp/train.err")"
    epochs=0
    [ -f "$run/metrics.csv" ] && epochs=$(($(wc -l <"$run/metrics.csv") - 1))
    if [ -f "$run/last.safetensors" ]; then
        "${evaluate[@]}" >"$tmp/eval.out" 2>"$tmp/eval.err" ||
            fail "trial $t: the checkpoint left by the kill does not load: $(cat "$tmp/eval.err")"
        loaded=$((loaded + 1))
        echo "trial $t: killed after ${delay} s ${resume[*]:+(resumed)}; last.safetensors loads; $epochs epochs in metrics.csv"
    else
        none_yet=$((none_yet + 1))
        echo "trial $t: killed after ${delay} s, before the first checkpoint"
    fi
done
leftovers=$(find "$run" -name '*.tmp.*' 2>/dev/null | wc -l)
echo "SIGKILL: $trials trials, $killed killed while running, $loaded checkpoints loaded after the kill," \
    "$none_yet before any checkpoint, $resumed resumed runs, $((epochs)) epochs completed in all," \
    "$leftovers temporary files left by killed writers"
[ "$loaded" -gt 0 ] || fail "no trial lasted long enough to write a checkpoint"

# --resume continues once more, and a SIGINT then stops it cleanly (exit status 130) with a checkpoint.
status=0
timeout --preserve-status -s INT 2 "${train[@]}" --resume >"$tmp/train.out" 2>"$tmp/train.err" || status=$?
[ "$status" -eq 130 ] || fail "the final --resume exited with $status: $(cat "$tmp/train.err")"
after=$(($(wc -l <"$run/metrics.csv") - 1))
[ "$after" -gt "$epochs" ] || fail "the final --resume did not add an epoch ($epochs before, $after after)"
echo "resume: continued from epoch $epochs to $after, then stopped cleanly by SIGINT"

# A full disk: the file-size limit in 1024-byte blocks, half the checkpoint's size.
before=$(sha256sum <"$run/last.safetensors")
size=$(stat -c %s "$run/last.safetensors")
limit=$((size / 2048))
status=0
(
    trap '' XFSZ  # ignored signals stay ignored across exec: write() then fails with EFBIG
    ulimit -f "$limit"
    exec "${train[@]}" --resume
) >"$tmp/full.out" 2>"$tmp/full.err" || status=$?
message=$(grep -m1 'error' "$tmp/full.err" || true)
[ "$status" -eq 1 ] || fail "with a full disk vit train exited with $status: $(cat "$tmp/full.err")"
[ -n "$message" ] || fail "with a full disk vit train printed no error: $(cat "$tmp/full.err")"
[ "$(sha256sum <"$run/last.safetensors")" = "$before" ] || fail "the previous checkpoint changed on a full disk"
"${evaluate[@]}" >/dev/null 2>"$tmp/eval.err" || fail "the previous checkpoint no longer loads: $(cat "$tmp/eval.err")"
leftovers=$(find "$run" -name '*.tmp.*' -newer "$tmp/full.out" 2>/dev/null | wc -l)
echo "full disk (ulimit -f $limit KiB, checkpoint $size bytes): exit status $status; $message"
echo "full disk: the previous checkpoint is unchanged (sha256) and loads; $leftovers temporary files left by the failed write"
echo "kill_test: passed"
