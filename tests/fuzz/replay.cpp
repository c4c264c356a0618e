// vit_fuzz_replay TARGET PATH...: runs a fuzz target's entry function, without the fuzzer, on every file
// given or found under the folders given (the seed corpus, the saved crash reproducers). A bug crashes it
// as it crashed the fuzzer; ctest runs it on tests/fuzz/{corpus,regressions}/TARGET (CMakeLists.txt).
// A path that does not exist is skipped (a target with no reproducers yet has no folder); no input at
// all is an error, so that a misspelt path cannot pass unnoticed.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz_target.hpp"

namespace fs = std::filesystem;

namespace {

size_t replay(vit::fuzz::Entry entry, const fs::path& file) {
    std::ifstream f(file, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay %s (%zu bytes)\n", file.c_str(), bytes.size());
    entry(bytes.data(), bytes.size());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s TARGET PATH...\ntargets: %s\n", argv[0], vit::fuzz::target_names().c_str());
        return 2;
    }
    const vit::fuzz::Entry entry = vit::fuzz::find_target(argv[1]);
    if (!entry) {
        std::fprintf(stderr, "unknown target '%s' (targets: %s)\n", argv[1], vit::fuzz::target_names().c_str());
        return 2;
    }
    size_t count = 0;
    for (int i = 2; i < argc; ++i) {
        const fs::path p(argv[i]);
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<fs::path> files;
            for (const auto& e : fs::recursive_directory_iterator(p))
                if (e.is_regular_file()) files.push_back(e.path());
            std::sort(files.begin(), files.end());
            for (const fs::path& f : files) count += replay(entry, f);
        } else if (fs::is_regular_file(p, ec)) {
            count += replay(entry, p);
        }
    }
    if (count == 0) {
        std::fprintf(stderr, "no inputs found for target '%s'\n", argv[1]);
        return 1;
    }
    std::printf("%s: %zu inputs replayed without a finding\n", argv[1], count);
    return 0;
}
