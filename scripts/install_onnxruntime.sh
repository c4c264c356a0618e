#!/usr/bin/env bash
# Installs ONNX Runtime for the ONNX export tests: npm's onnxruntime-node (its package carries the CPU
# library) into .cache/onnxruntime-node/node_modules, where tests/io/test_onnx_export.cpp looks for it.
# --ignore-scripts: the package's install script would download more from outside the registry; the
# CPU library in the package is all the tests need. Quick (seconds) when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.30.0
dir=.cache/onnxruntime-node
pkg=$dir/node_modules/onnxruntime-node/package.json
if [[ -f $pkg ]] && [[ $(node -p "require('./$pkg').version" 2>/dev/null) == "$version" ]]; then
    exit 0
fi
command -v npm >/dev/null || { echo "install_onnxruntime: npm is not installed" >&2; exit 1; }
mkdir -p "$dir"
npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --no-save --loglevel=error \
    "onnxruntime-node@$version" >&2
echo "install_onnxruntime: onnxruntime-node $version in $dir/node_modules" >&2
