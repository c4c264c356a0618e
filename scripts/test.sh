#!/usr/bin/env bash
# Builds (through setup.sh, warnings as errors) and runs the whole test suite. This is what CI runs
# (.ci/run). Under CI, or with VIT_SANITIZERS=1, the suite then runs a second time built with
# AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer in build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: headless, it opens the HTML gallery of `vit explain --html` in a test.
VIT_EXTRA_PACKAGES="chromium ${VIT_EXTRA_PACKAGES:-}" VIT_CMAKE_ARGS="-DVIT_WERROR=ON ${VIT_CMAKE_ARGS:-}" scripts/setup.sh
ctest --test-dir build --output-on-failure "$@"

if [[ -n "${CI:-}" || "${VIT_SANITIZERS:-0}" == 1 ]]; then
    echo "test: the suite again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)" >&2
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIT_SANITIZE=ON -DVIT_WERROR=ON
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
