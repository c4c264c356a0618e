#!/usr/bin/env bash
# Install.NamedConfigsWorkFromAnyFolder (ctest): `cmake --install` into a temporary prefix, then, from a
# folder that is neither the source nor the build tree, the installed vit runs `bench` and `train` on
# the named configuration cifar-t, and a separate project builds against the installed package with
# find_package(vit) and runs.
#
# usage: tests/install_test.sh BUILD_DIR [SKIP_CONSUMER]
#   SKIP_CONSUMER=1 leaves out the consumer project (the sanitizer build: its library needs the
#   sanitizer runtime linked into whatever uses it).
set -euo pipefail

build=$(realpath "$1")
skip_consumer=${2:-0}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vit_install_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() {
    echo "install_test: FAIL: $*" >&2
    exit 1
}

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || fail "cmake --install: $(cat "$tmp/install.log")"
for f in bin/vit include/vit/vit.hpp include/vit/image/header.hpp share/vit/configs/cifar-t.json \
    share/vit/labels/imagenet-1k.tsv lib/cmake/vit/vitConfig.cmake lib/cmake/vit/vitConfigVersion.cmake; do
    [ -e "$prefix/$f" ] || fail "$f was not installed"
done
prefix=$(realpath "$prefix")  # as the program sees its own path
ls "$prefix"/lib*/libvit.a >/dev/null 2>&1 || fail "libvit.a was not installed"

# From elsewhere: the installed data folder is searched first (the error for an unknown name lists the
# places tried), and the named configuration resolves.
work=$tmp/elsewhere
mkdir -p "$work"
cd "$work"
"$prefix/bin/vit" bench --model-config no-such-config >/dev/null 2>"$tmp/lookup.err" && fail "an unknown name was found"
grep -q "$prefix/share/vit/configs/no-such-config.json" "$tmp/lookup.err" ||
    fail "the installed data folder is not searched: $(cat "$tmp/lookup.err")"

"$prefix/bin/vit" bench --model-config cifar-t --batch 2 --reps 1 --threads 2 >"$tmp/bench.out" ||
    fail "vit bench --model-config cifar-t failed"
grep -q '"config":"cifar-t"' "$tmp/bench.out" || fail "unexpected bench output: $(cat "$tmp/bench.out")"
echo "bench: $(cat "$tmp/bench.out")"

# One tiny epoch on two classes of the sample images (4 + 4 for training, the same for testing).
for split in train test; do
    for f in "$src"/datasets/samples/cifar10/*.jpg; do
        name=$(basename "$f" .jpg)
        case $name in airplane* | automobile* | ship* | truck*) cls=vehicles ;; *) cls=animals ;; esac
        mkdir -p "data/$split/$cls"
        cp "$f" "data/$split/$cls/"
    done
done
"$prefix/bin/vit" train --model-config cifar-t --data data --epochs 1 --batch 4 --threads 2 --workers 1 \
    --output run 2>"$tmp/train.err" || fail "vit train --model-config cifar-t failed: $(cat "$tmp/train.err")"
[ -f run/last.safetensors ] || fail "vit train wrote no checkpoint"
echo "train: $(tail -n 1 run/metrics.csv)"

if [ "$skip_consumer" = 1 ]; then
    echo "consumer project: skipped"
    exit 0
fi
# The installed headers are the library's public API only: none names oneDNN or OpenCV (both are linked
# privately) or reaches into the library's private headers.
if grep -rlE '#include *[<"](oneapi/|dnnl|opencv)' "$prefix/include/vit" >"$tmp/leaks"; then
    fail "installed headers include oneDNN or OpenCV: $(cat "$tmp/leaks")"
fi
for h in $(cd "$prefix/include" && find vit -name '*.hpp'); do
    for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$prefix/include/$h"); do
        [ -e "$prefix/include/$inc" ] || fail "installed $h includes $inc, which is not installed"
    done
done
# vit.hpp is the whole API: it includes every other installed header.
for h in $(cd "$prefix/include" && find vit -name '*.hpp' ! -name vit.hpp); do
    grep -q "#include \"$h\"" "$prefix/include/vit/vit.hpp" || fail "vit.hpp does not include $h"
done
cp -r "$src/tests/install_consumer" consumer
cmake -S consumer -B consumer/build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    >"$tmp/consumer.log" 2>&1 || fail "configuring the consumer project: $(cat "$tmp/consumer.log")"
cmake --build consumer/build >>"$tmp/consumer.log" 2>&1 || fail "building the consumer project: $(cat "$tmp/consumer.log")"
consumer/build/vit_consumer >"$tmp/consumer.out" || fail "the consumer program failed"
grep -q '^logits ' "$tmp/consumer.out" || fail "unexpected consumer output: $(cat "$tmp/consumer.out")"
echo "consumer: $(cat "$tmp/consumer.out")"
