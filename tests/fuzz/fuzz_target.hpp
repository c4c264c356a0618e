// The frame shared by the fuzz targets. Each target file defines one entry function with
// VIT_FUZZ_TARGET(name); libfuzzer_entry.cpp hands it to libFuzzer (VIT_FUZZ builds: one program per
// target, scripts/fuzz.sh), and replay.cpp runs it on saved inputs in every build, so that ctest replays
// the seed corpora and every crash reproducer in tests/fuzz/regressions/ without the fuzzer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "vit/util/error.hpp"

namespace vit::fuzz {

using Entry = void (*)(const uint8_t* data, size_t size);

// Registers `entry` under `name` (called during static initialisation by VIT_FUZZ_TARGET).
bool register_target(const char* name, Entry entry);
// The target registered under `name`, or nullptr.
Entry find_target(const std::string& name);
// The registered names, comma-separated, for messages.
std::string target_names();

// A folder of this process's own under the system's temporary folder, for targets whose readers take
// paths; emptied and removed at exit.
const std::filesystem::path& scratch_dir();
void write_file(const std::filesystem::path& path, const uint8_t* data, size_t size);

// Runs f. The library's typed errors are its expected answer to malformed input and end the run
// quietly; anything else (another exception, a crash, a sanitizer report) escapes as a finding.
template <typename F>
void expect_typed_errors(F&& f) {
    try {
        f();
    } catch (const vit::Error&) {
    }
}

// A broken invariant that no exception should hide: aborts, which both libFuzzer and ctest report.
[[noreturn]] void invariant_failed(const char* what);

}  // namespace vit::fuzz

#define VIT_FUZZ_TARGET(name)                                                                          \
    static void vit_fuzz_##name(const uint8_t* data, size_t size);                                     \
    [[maybe_unused]] static const bool vit_fuzz_registered_##name =                                    \
        ::vit::fuzz::register_target(#name, vit_fuzz_##name);                                          \
    static void vit_fuzz_##name(const uint8_t* data, size_t size)
