#!/usr/bin/env bash
# Crash safety of `vit train`, tried the hard way.
#
# 1. SIGKILL at random moments: a first run is killed once it has a checkpoint; then the same run folder
#    is resumed again and again and killed after a random delay (up to twice the time the first run
#    took to its first checkpoint). After every kill, the checkpoint under its final name
#    (last.safetensors) must load (`vit eval` on it), and the next trial's --resume must continue from it
#    (a resumed run that fails exits by itself before it is killed, which counts as a failure). A last
#    --resume must complete another epoch.
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

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
epochs_done() { if [ -f "$run/metrics.csv" ]; then echo $(($(wc -l <"$run/metrics.csv") - 1)); else echo 0; fi; }
# Waits until metrics.csv counts more than $1 epochs (the checkpoint is written just before): false when
# the run $2 ends first, or after 5 minutes.
wait_for_epoch_after() {
    for _ in $(seq 6000); do
        [ "$(epochs_done)" -gt "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# The first run, until its first checkpoint: how long a start and one epoch take on this machine (a busy
# one is many times slower) sets the range of the random delays.
start=$(now_ms)
"${train[@]}" >"$tmp/train.out" 2>"$tmp/train.err" &
pid=$!
wait_for_epoch_after 0 "$pid" || fail "the first run wrote no checkpoint: $(cat "$tmp/train.err")"
first_ms=$(($(now_ms) - start))
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
span=$((2 * first_ms < 1000 ? 1000 : 2 * first_ms > 30000 ? 30000 : 2 * first_ms))
echo "first checkpoint $first_ms ms after the start; the kills land 50 to $span ms after each start"

killed=0 loaded=0
for t in $(seq 1 "$trials"); do
    delay_ms=$((50 + RANDOM % (span - 50)))
    delay=$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))
    "${train[@]}" --resume >"$tmp/train.out" 2>"$tmp/train.err" &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
    status=0
    wait "$pid" 2>/dev/null || status=$?
    # 137 = 128 + SIGKILL. Anything else means the run ended by itself: a failed resume.
    [ "$status" -eq 137 ] || fail "trial $t: vit train --resume exited with $status before the kill: $(cat "$tmp/train.err")"
    "${evaluate[@]}" >"$tmp/eval.out" 2>"$tmp/eval.err" ||
        fail "trial $t: the checkpoint left by the kill does not load: $(cat "$tmp/eval.err")"
    loaded=$((loaded + 1))
    echo "trial $t: resumed, killed after $delay s; last.safetensors loads; $(epochs_done) epochs in metrics.csv"
done
epochs=$(epochs_done)
leftovers=$(find "$run" -name '*.tmp.*' | wc -l)
echo "SIGKILL: $trials trials, $killed killed while running, $loaded checkpoints loaded after the kill," \
    "$epochs epochs completed in all, $leftovers temporary files left by killed writers"

# --resume continues once more: it completes an epoch, then a SIGINT stops it cleanly (exit status 130).
"${train[@]}" --resume >"$tmp/train.out" 2>"$tmp/train.err" &
pid=$!
wait_for_epoch_after "$epochs" "$pid" || fail "the final --resume added no epoch: $(cat "$tmp/train.err")"
kill -INT "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 130 ] || fail "the final --resume exited with $status after SIGINT: $(cat "$tmp/train.err")"
echo "resume: continued from epoch $epochs to $(epochs_done), then stopped cleanly by SIGINT"

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
