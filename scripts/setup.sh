#!/usr/bin/env bash
# Installs the build dependencies that are missing (Debian/Ubuntu) and builds into build/: the library
# and `vit` (the README's first command), or the targets in VIT_BUILD_TARGETS (scripts/test.sh: all).
# Safe to run again: installed packages are left alone and the build is incremental, with the same
# flags whichever targets are built, so the test suite's build reuses the program's.
set -euo pipefail
cd "$(dirname "$0")/.."

# libonnx-dev (with libprotobuf-dev): ONNX export; python3-onnx: the tests' second checker of the files.
# libopenmpi-dev, openmpi-bin: data-parallel runs under mpirun and their tests (docs/DISTRIBUTED.md).
packages=(build-essential cmake libdnnl-dev libopencv-dev libboost-program-options-dev
          nlohmann-json3-dev libgtest-dev zlib1g-dev libonnx-dev libprotobuf-dev python3-onnx
          libopenmpi-dev openmpi-bin)
# Extra packages from the caller: scripts/test.sh adds chromium (the explain gallery's test).
read -r -a extra_packages <<< "${VIT_EXTRA_PACKAGES:-}"
packages+=("${extra_packages[@]}")

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime for the ONNX export tests (npm, seconds): optional, its tests skip without it.
scripts/install_onnxruntime.sh || echo "setup: ONNX Runtime (npm onnxruntime-node) not installed; the tests that run exported ONNX files will skip" >&2

# Extra CMake arguments (scripts/test.sh passes -DVIT_WERROR=ON) come from VIT_CMAKE_ARGS.
read -r -a extra <<< "${VIT_CMAKE_ARGS:-}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${extra[@]}"
read -r -a targets <<< "${VIT_BUILD_TARGETS:-vit}"
cmake --build build -j"$(nproc)" --target "${targets[@]}"
