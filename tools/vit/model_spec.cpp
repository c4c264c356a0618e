#include "model_spec.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "vit/model/checkpoint.hpp"
#include "vit/util/error.hpp"
#include "vit/model/imagenet_labels.hpp"
#include "vit/io/checkpoint.hpp"

namespace vit_cli {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw vit::IoError("cannot open " + what + " " + path);
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) throw vit::IoError("cannot read " + what + " " + path);
    return s.str();
}

std::vector<float> float_list(const nlohmann::json& j, const std::string& what) {
    if (!j.is_array()) throw vit::ConfigError(what + " must be an array of numbers");
    std::vector<float> v;
    for (const auto& e : j) {
        if (!e.is_number()) throw vit::ConfigError(what + " must be an array of numbers");
        v.push_back(e.get<float>());
    }
    return v;
}

vit::PreprocessConfig preprocess_from(const nlohmann::json& j, const vit::ViTConfig& cfg, const std::string& src) {
    vit::PreprocessConfig p;
    p.channels = cfg.in_chans;
    p.height = cfg.img_h;
    p.width = cfg.img_w;
    p.mean.assign(p.channels, 0.5f);
    p.std.assign(p.channels, 0.5f);
    if (j.is_null()) return p;
    if (!j.is_object()) throw vit::ConfigError(src + ": \"preprocess\" must be an object");
    for (const auto& [key, value] : j.items()) {
        const std::string what = src + ": preprocess." + key;
        if (key == "interpolation" && value.is_string()) {
            p.interpolation = vit::parse_interpolation(value.get<std::string>());
        } else if (key == "resize_mode" && value.is_string()) {
            p.resize_mode = vit::parse_resize_mode(value.get<std::string>());
        } else if (key == "crop_pct" && value.is_number()) {
            p.crop_pct = value.get<double>();
        } else if ((key == "channels" || key == "height" || key == "width") && value.is_number_integer()) {
            // Accepted so that a checkpoint's own "vit.preprocess" can be pasted in, but the size and
            // channel count always come from the model.
            const int want = key == "channels" ? p.channels : key == "height" ? p.height : p.width;
            if (value.get<int>() != want)
                throw vit::ConfigError(what + " is " + std::to_string(value.get<int>()) + " but the model needs " +
                                       std::to_string(want));
        } else if (key == "mean") {
            p.mean = float_list(value, what);
        } else if (key == "std") {
            p.std = float_list(value, what);
        } else {
            // An unknown or mistyped key is an error, not silently ignored: it would change results.
            throw vit::ConfigError(what + ": unknown key or wrong type");
        }
    }
    try {
        p.validate();
    } catch (const vit::ConfigError& e) {
        throw vit::ConfigError(src + ": " + e.what());
    }
    return p;
}


fs::path program_dir() {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) return fs::current_path();
    buf[n] = '\0';
    return fs::path(buf).parent_path();
}

}  // namespace

std::string resolve_named_file(const std::string& name_or_file, const std::string& folder, const std::string& what) {
    if (fs::is_regular_file(name_or_file)) return name_or_file;
    const std::string file = name_or_file + ".json";
    std::vector<fs::path> tried;
    // Installed (share/vit/FOLDER beside bin/), a build folder inside the source tree, the current
    // folder, and last the source tree this program was built from (for a build folder elsewhere).
    const fs::path bin = program_dir();
    for (const fs::path& dir : {bin / VIT_DATA_FROM_BIN / folder, bin / ".." / "models" / folder, bin / "models" / folder,
                                fs::current_path() / "models" / folder, fs::path(VIT_SOURCE_MODELS) / folder}) {
        tried.push_back(dir / file);
        if (fs::is_regular_file(tried.back())) return tried.back().lexically_normal().string();
    }
    std::string where;
    for (const auto& t : tried) where += "\n  " + t.lexically_normal().string();
    throw vit::IoError(what + " '" + name_or_file + "' is neither a file nor a known name; tried:" + where);
}

NamedJson load_named_json(const std::string& name_or_file, const std::string& folder, const std::string& what) {
    NamedJson out;
    out.source = resolve_named_file(name_or_file, folder, what);
    try {
        out.json = nlohmann::json::parse(read_text(out.source, what));
    } catch (const nlohmann::json::exception& e) {
        throw vit::FormatError(out.source + ": not valid JSON: " + e.what());
    }
    if (!out.json.is_object()) throw vit::FormatError(out.source + ": expected a JSON object");
    return out;
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> labels;
    std::string cur;
    std::istringstream in(text);
    while (std::getline(in, cur, ',')) labels.push_back(cur);
    if (!text.empty() && text.back() == ',') labels.emplace_back();
    return labels;
}

ModelSpec load_model_spec(const std::string& name_or_file) {
    ModelSpec spec;
    NamedJson file = load_named_json(name_or_file, "configs", "model configuration");
    spec.source = file.source;
    nlohmann::json& j = file.json;
    // "preprocess" and "labels" are ours; everything else is timm's kwargs.
    nlohmann::json pre_json, labels_json;
    if (j.contains("preprocess")) {
        pre_json = j["preprocess"];
        j.erase("preprocess");
    }
    if (j.contains("labels")) {
        labels_json = j["labels"];
        j.erase("labels");
    }
    spec.config = vit::config_from_json(j.dump(), spec.source);
    spec.config.validate();
    spec.preprocess = preprocess_from(pre_json, spec.config, spec.source);
    if (!labels_json.is_null()) {
        try {
            spec.labels = labels_json.get<std::vector<std::string>>();
        } catch (const nlohmann::json::exception&) {
            throw vit::ConfigError(spec.source + ": \"labels\" must be an array of strings");
        }
        if (static_cast<int>(spec.labels.size()) != spec.config.num_classes)
            throw vit::ConfigError(spec.source + ": " + std::to_string(spec.labels.size()) + " labels but num_classes " +
                                   std::to_string(spec.config.num_classes));
    } else {
        spec.labels = vit::default_labels(spec.config.num_classes);
    }
    return spec;
}

}  // namespace vit_cli
