#include "fuzz_target.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

namespace vit::fuzz {
namespace {

std::map<std::string, Entry>& registry() {
    static std::map<std::string, Entry> targets;
    return targets;
}

struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() {
        path = std::filesystem::temp_directory_path() / ("vit-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

}  // namespace

bool register_target(const char* name, Entry entry) {
    registry()[name] = entry;
    return true;
}

Entry find_target(const std::string& name) {
    const auto it = registry().find(name);
    return it == registry().end() ? nullptr : it->second;
}

std::string target_names() {
    std::string out;
    for (const auto& kv : registry()) out += (out.empty() ? "" : ", ") + kv.first;
    return out;
}

const std::filesystem::path& scratch_dir() {
    static const ScratchDir dir;
    return dir.path;
}

void write_file(const std::filesystem::path& path, const uint8_t* data, size_t size) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!f) invariant_failed("cannot write the fuzz input to the scratch folder");
}

void invariant_failed(const char* what) {
    std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
    std::abort();
}

}  // namespace vit::fuzz
