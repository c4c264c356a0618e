#include "io/export/shared.hpp"

#include <algorithm>
#include <filesystem>

#include "io/checkpoint/formats.hpp"
#include "vit/util/error.hpp"
#include "vit/model/model.hpp"

namespace vit::detail {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMarkKey = "vit.export";
// Every file name an export writes, in either format.
const std::vector<std::string> kExportFiles = {"model.safetensors", "config.json", "preprocessor_config.json"};

bool is_earlier_export(const fs::path& dir) {
    const fs::path weights = dir / "model.safetensors";
    std::error_code ec;
    if (!fs::is_regular_file(weights, ec)) return false;
    try {
        return read_safetensors_metadata(weights.string()).count(kMarkKey) > 0;
    } catch (const Error&) {
        return false;  // unreadable or not safetensors: not ours
    }
}

}  // namespace

Checkpoint exportable_checkpoint(const Checkpoint& ckpt, const std::string& dir) {
    // Everything but the weights, which are copied once, through the model's own parameter list.
    Checkpoint out;
    out.config = ckpt.config;
    out.preprocess = ckpt.preprocess;
    out.labels = ckpt.labels;
    out.format = ckpt.format;
    out.source = ckpt.source.empty() ? dir : ckpt.source;
    validate_checkpoint(out);
    Parameters params(out.config);
    params.load(ckpt.weights, out.source);
    out.weights = params.to_map();
    return out;
}

void prepare_export_folder(const std::string& dir, const std::vector<std::string>& writes) {
    const fs::path p(dir);
    std::error_code ec;
    if (!fs::exists(p, ec)) {
        fs::create_directories(p, ec);
        if (ec) throw IoError("cannot create folder " + dir + ": " + ec.message());
        return;
    }
    if (!fs::is_directory(p, ec)) throw IoError(dir + " exists and is not a folder");
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(p, ec)) names.push_back(e.path().filename().string());
    if (ec) throw IoError("cannot list folder " + dir + ": " + ec.message());
    if (names.empty()) return;
    std::sort(names.begin(), names.end());
    const bool only_ours = std::all_of(names.begin(), names.end(), [](const std::string& n) {
        return std::find(kExportFiles.begin(), kExportFiles.end(), n) != kExportFiles.end();
    });
    if (!only_ours || !is_earlier_export(p)) {
        std::string held;
        for (size_t i = 0; i < names.size() && i < 5; ++i) held += (i ? ", " : "") + names[i];
        if (names.size() > 5) held += ", ... (" + std::to_string(names.size()) + " entries)";
        throw IoError(dir + " is not empty (" + held + ") and is not an earlier export; choose a new or empty folder");
    }
    for (const std::string& n : names) {
        if (std::find(writes.begin(), writes.end(), n) != writes.end()) continue;
        fs::remove(p / n, ec);
        if (ec) throw IoError("cannot remove " + (p / n).string() + " left by an earlier export: " + ec.message());
    }
}

std::vector<double> readable_floats(const std::vector<float>& v) {
    std::vector<double> out;
    for (float f : v) out.push_back(shortest_double(f));
    return out;
}

Metadata export_metadata(const std::string& format) { return {{"format", "pt"}, {kMarkKey, format}}; }

}  // namespace vit::detail
