#!/usr/bin/env bash
# Builds (through setup.sh, with the flags of the README's first command, so its build is reused) and
# runs the whole test suite, then the tests that depend on the CPU again under smaller instruction sets
# (scripts/test_cpu_caps.sh). This is what CI runs (.ci/run, which adds -DVIT_WERROR=ON through
# VIT_CMAKE_ARGS). Under CI, or with VIT_SANITIZERS=1, the suite then runs a second time built with
# AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer in build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: headless, it opens the HTML gallery of `vit explain --html` in a test.
VIT_EXTRA_PACKAGES="chromium ${VIT_EXTRA_PACKAGES:-}" VIT_BUILD_TARGETS=all scripts/setup.sh
ctest --test-dir build --output-on-failure "$@"
scripts/test_cpu_caps.sh "$@"

if [[ -n "${CI:-}" || "${VIT_SANITIZERS:-0}" == 1 ]]; then
    echo "test: the suite again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)" >&2
    read -r -a extra <<< "${VIT_CMAKE_ARGS:-}"
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIT_SANITIZE=ON "${extra[@]}"
    cmake --build build-asan -j"$(nproc)"
    # Every finding fails the test that caused it: ASan aborts, UBSan halts, leaks are reported at exit.
    # The tests under mpirun run without the leak check: Open MPI's plugins keep allocations past
    # MPI_Finalize from code that LeakSanitizer can only show as "<unknown module>", so no suppression
    # can name them; memory errors and undefined behaviour still fail those tests.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions="$PWD/tests/sanitizers/lsan.supp" \
        ctest --test-dir build-asan --output-on-failure -E '^(Mpi|MpiTrain)[.]' "$@"
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan --output-on-failure -R '^(Mpi|MpiTrain)[.]' --no-tests=ignore "$@"
fi
