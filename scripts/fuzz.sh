#!/usr/bin/env bash
# Fuzzes the library's readers of hostile input with libFuzzer (tests/fuzz/, docs/RELIABILITY.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Builds the fuzz programs in build-fuzz/ (clang, -DVIT_FUZZ=ON: the library instrumented for coverage
# and checked by AddressSanitizer + UndefinedBehaviorSanitizer) and runs each TARGET (default: all) for
# SECONDS (default 60), starting from its seed corpus tests/fuzz/corpus/TARGET. The corpus it grows is
# kept in build-fuzz/fuzz-runs/TARGET/corpus, so a second run goes on from where the first stopped.
# A finding (crash, leak, undefined behaviour, timeout, out-of-memory) stops that target's run; its
# reproducer is copied to fuzz-findings/TARGET/ (VIT_FUZZ_FINDINGS to change), as are inputs slower
# than 10 s (counted apart: they do not stop the run). Replay one with
#   build-fuzz/fuzz_TARGET FILE
# minimise it with -minimize_crash=1, and once fixed keep it in tests/fuzz/regressions/TARGET/, where
# ctest replays it in every build (vit_fuzz_replay).
#
# Environment: VIT_FUZZ_PARALLEL=N runs N targets at a time (default 1); VIT_FUZZ_ARGS adds libFuzzer
# flags. Prints per target: executions, coverage (edges: cov, features: ft), corpus size and findings.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
findings_root=${VIT_FUZZ_FINDINGS:-fuzz-findings}
parallel=${VIT_FUZZ_PARALLEL:-1}

cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DVIT_FUZZ=ON \
      -DVIT_BUILD_TESTS=OFF ${VIT_CMAKE_ARGS:-} >/dev/null
# The targets are the programs CMakeLists.txt builds (VIT_FUZZ_TARGETS); none named: all of them.
mapfile -t all < <(sed -n 's/^set(VIT_FUZZ_TARGETS \(.*\))$/\1/p' CMakeLists.txt | tr ' ' '\n')
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (targets: ${all[*]})" >&2; exit 2; }
done
cmake --build build-fuzz -j"${VIT_BUILD_JOBS:-2}" --target "${targets[@]/#/fuzz_}"

# Inputs larger than a target's readers need only slow the fuzzer down: a few CIFAR records, images of
# a few kilobytes, configuration files of a few kilobytes.
max_len() {
    case $1 in
        cifar) echo 16384 ;;   # the flags byte and up to five 3074-byte records
        image) echo 16384 ;;
        hf_config) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

run_one() {
    local t=$1 dir=build-fuzz/fuzz-runs/$1
    mkdir -p "$dir/corpus" "$dir/artifacts"
    rm -f "$dir"/artifacts/*  # the last run's findings were copied to the findings folder
    local dict=()
    [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
    # OpenCV refuses images above 1 Mpixel before decoding them (read when OpenCV loads; see image.cpp;
    # the same value as VIT_FUZZ_ENV in CMakeLists.txt, for the replay test).
    OPENCV_IO_MAX_IMAGE_PIXELS=1048576 nice -n 10 "build-fuzz/fuzz_$t" -max_total_time="$seconds" \
        -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" "${dict[@]}" ${VIT_FUZZ_ARGS:-} \
        "$dir/corpus" "tests/fuzz/corpus/$t" >"$dir/log" 2>&1 || true
}

summary() {
    local t=$1 dir=build-fuzz/fuzz-runs/$1
    local execs cov ft corp found=0 slow=0 f
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    # The last status line (#N ... cov: E ft: F corp: C/...) holds the final coverage.
    cov=$(grep -oE 'cov: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -oE 'corp: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
    mkdir -p "$findings_root/$t"
    for f in "$dir"/artifacts/*; do
        [[ -e $f ]] || continue
        cp -n "$f" "$findings_root/$t/"
        # An input slower than 10 s (libFuzzer's slow-unit-*) is reported but is no crash: fuzzing went on.
        if [[ $(basename "$f") == slow-unit-* ]]; then slow=$((slow + 1)); else found=$((found + 1)); fi
    done
    printf '%-12s %12s executions  cov %6s  ft %7s  corpus %6s  findings %d  slow inputs %d%s\n' "$t" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$found" "$slow" \
        "$([[ $((found + slow)) -gt 0 ]] && echo "  (see $findings_root/$t/, $dir/log)")"
    return $((found > 0))
}

pids=()
for t in "${targets[@]}"; do
    echo "fuzz: $t for ${seconds}s (log: build-fuzz/fuzz-runs/$t/log)" >&2
    run_one "$t" &
    pids+=($!)
    if [[ ${#pids[@]} -ge $parallel ]]; then
        wait "${pids[0]}"
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p"; done

status=0
for t in "${targets[@]}"; do summary "$t" || status=1; done
exit $status
