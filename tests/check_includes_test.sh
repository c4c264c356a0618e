#!/usr/bin/env bash
# Architecture.TheIncludeCheckRefusesAnUpwardIncludeAndALeakingPublicHeader (ctest): scripts/check_includes.py
# passes a small tree whose includes point down, and fails, naming the line, once a lower layer
# includes a higher one, once a public header includes a private one, and once it names OpenCV.
set -euo pipefail
check=$(cd "$(dirname "$0")/.." && pwd)/scripts/check_includes.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vit_check_includes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_includes_test: FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/docs" "$tmp/src/util" "$tmp/src/model" "$tmp/include/vit/util" "$tmp/include/vit/model"
echo "Layer order: util < model" >"$tmp/docs/ARCHITECTURE.md"
echo '#pragma once' >"$tmp/include/vit/util/tensor.hpp"
printf '#pragma once\n#include "vit/util/tensor.hpp"\n' >"$tmp/include/vit/model/model.hpp"
echo '#pragma once' >"$tmp/src/model/network.hpp"
printf '#include "vit/model/model.hpp"\n#include "model/network.hpp"\n' >"$tmp/src/model/model.cpp"
printf '#include "vit/util/tensor.hpp"\n' >"$tmp/src/util/tensor.cpp"
python3 "$check" "$tmp" >"$tmp/out" || fail "a tree with downward includes only was refused: $(cat "$tmp/out")"

printf '#include "vit/model/model.hpp"\n' >>"$tmp/src/util/tensor.cpp"
python3 "$check" "$tmp" >"$tmp/out" && fail "an upward include passed"
grep -q 'src/util/tensor.cpp:2: #include "vit/model/model.hpp": util includes model, a higher layer' "$tmp/out" ||
    fail "unexpected report: $(cat "$tmp/out")"
printf '#include "vit/util/tensor.hpp"\n' >"$tmp/src/util/tensor.cpp"

printf '#include "model/network.hpp"\n' >>"$tmp/include/vit/model/model.hpp"
python3 "$check" "$tmp" >"$tmp/out" && fail "a public header including a private one passed"
grep -q 'a public header includes a private one' "$tmp/out" || fail "unexpected report: $(cat "$tmp/out")"
printf '#pragma once\n#include <opencv2/core.hpp>\n' >"$tmp/include/vit/model/model.hpp"
python3 "$check" "$tmp" >"$tmp/out" && fail "a public header naming OpenCV passed"
grep -q 'a public header names oneDNN or OpenCV' "$tmp/out" || fail "unexpected report: $(cat "$tmp/out")"
echo "check_includes_test: all three violations found"
