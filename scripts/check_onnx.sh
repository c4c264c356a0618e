#!/usr/bin/env bash
# The ONNX export checks on their own: installs ONNX Runtime (npm) if needed, builds the tests and runs
# the ONNX ones (tests/io/test_onnx_export.cpp), printing the measured differences. Every exported model
# (models/cifar-t, the fixtures in tests/fixtures and ../shared/fixtures, synthetic ones for the options
# that no fixture has) runs in ONNX Runtime against our logits (1e-4) and attention (1e-5), and passes
# the Python onnx package's check_model(full_check=True). Where a plain ctest run skips those checks
# for a missing ONNX Runtime or python3-onnx, this script fails.
#   scripts/check_onnx.sh            (BUILD_DIR=build-x to use another build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
scripts/install_onnxruntime.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target vit_tests
status=0
out=$("$build/vit_tests" --gtest_filter='*Onnx*' 2>&1) || status=$?
echo "$out" | grep -E '^\[ figures  \]|^\[  (PASSED|FAILED|SKIPPED) ' || true
echo "$out" | grep -E 'skipped: |not found at ' >&2 || true  # why a test skipped
if ((status)); then
    echo "$out" | grep -A4 'Failure' >&2 || true
    exit 1
fi
if echo "$out" | grep -q -E 'ONNX Runtime check skipped|Python ONNX checker skipped'; then
    echo "check_onnx: ONNX Runtime or the Python checker is missing" >&2
    exit 1
fi
