#!/usr/bin/env bash
# Runs the tests that depend on the CPU again under smaller instruction sets, so that a machine with
# AVX-512 checks what users' CPUs run: ONEDNN_MAX_CPU_ISA caps oneDNN's kernels and our own loops alike
# (src/util/cpu_dispatch.hpp). Called by scripts/test.sh after the full suite; extra arguments go to
# ctest. A cap this CPU is already below is skipped with a message (a cap cannot raise the CPU).
#
#   AVX2          most laptops and desktops: bf16 refused, int8 without VNNI, attention in f32
#   AVX512_CORE   AVX-512 without BF16 or VNNI: bf16 emulated, int8 without VNNI
#   SSE41         the f32 fixtures, the dtype refusals and the CLI on the oldest x86-64 oneDNN runs on
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests that do not depend on the instruction set (file formats, caches, processes, fuzzing, install)
# run once, in the full suite.
cpu_independent='^(Fuzz|FuzzReplay|Mpi|MpiTrain|Install|CrashSafety|HubCache|ImageNetLabels|SafeTensors|ImageHeader|Chart|Progress|ProgressCli|Memory)[./]'
f32_and_cli='^(Cli|CliTrain|ExplainCli|ExportCli|HubCli|ForwardParity|ForwardOptions|TimmHub|Fixtures|HuggingFace[A-Za-z0-9]*|Preprocess|LayerContract|GradCheck|CpuSupport|TrainStep|Dtype|DtypeCapture|Softmax|Bf16[A-Za-z]*|Int8[A-Za-z]*)[./]'

failed=()
run_capped() {
    local cap=$1
    shift
    local isa
    isa=$(ONEDNN_MAX_CPU_ISA=$cap build/vit info --format json | python3 -c 'import json, sys; print(json.load(sys.stdin)["isa"])')
    if [[ "$isa" != "$cap" ]]; then
        echo "test_cpu_caps: skipping ONEDNN_MAX_CPU_ISA=$cap: this CPU runs $isa under it (a cap cannot raise the CPU)" >&2
        return
    fi
    echo "test_cpu_caps: the tests again under ONEDNN_MAX_CPU_ISA=$cap" >&2
    ONEDNN_MAX_CPU_ISA=$cap ctest --test-dir build --output-on-failure -j"$(nproc)" "$@" || failed+=("$cap")
}

run_capped AVX2 -E "$cpu_independent" "$@"
run_capped AVX512_CORE -E "$cpu_independent" "$@"
run_capped SSE41 -R "$f32_and_cli" "$@"

if ((${#failed[@]})); then
    echo "test_cpu_caps: tests failed under ONEDNN_MAX_CPU_ISA=${failed[*]}" >&2
    exit 1
fi
