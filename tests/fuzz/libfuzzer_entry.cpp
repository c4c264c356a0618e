// libFuzzer's entry point for a program built from exactly one target file (VIT_FUZZ builds).
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const vit::fuzz::Entry entry = vit::fuzz::find_target(VIT_FUZZ_TARGET_NAME);
    if (!entry) vit::fuzz::invariant_failed("the program's target is not registered");
    entry(data, size);
    return 0;
}
