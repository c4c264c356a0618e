// Our own single .safetensors file: the configuration, labels and preprocessing as JSON metadata
// ("vit.config", "vit.labels", "vit.preprocess"), and for training runs the optimizer state.
#include "io/checkpoint/formats.hpp"
#include "vit/util/error.hpp"
#include "vit/image/preprocess.hpp"

namespace vit {
namespace detail {

namespace {

constexpr const char* kFormatVersion = "1";

PreprocessConfig preprocess_from_json(const json& j, const std::string& src) {
    PreprocessConfig p;
    p.channels = get_int(j, "channels", p.channels, src);
    p.height = get_int(j, "height", p.height, src);
    p.width = get_int(j, "width", p.width, src);
    try {
        p.interpolation = parse_interpolation(get_str(j, "interpolation", "bicubic", src));
        p.resize_mode = parse_resize_mode(get_str(j, "resize_mode", "shorter_side_crop", src));
    } catch (const ConfigError& e) {
        config_error(src, e.what());
    }
    p.crop_pct = get_num(j, "crop_pct", p.crop_pct, src);
    p.mean = get_floats(j, "mean", std::vector<float>(static_cast<size_t>(std::max(p.channels, 0)), 0.5f), src);
    p.std = get_floats(j, "std", std::vector<float>(static_cast<size_t>(std::max(p.channels, 0)), 0.5f), src);
    return p;
}


}  // namespace

bool is_native(const SafeTensors& st) { return st.metadata.count("vit.config") > 0; }

Checkpoint load_native(SafeTensors st, const std::string& path) {
    Checkpoint ck;
    ck.format = CheckpointFormat::Native;
    auto meta = [&](const char* key) -> const std::string& {
        auto it = st.metadata.find(key);
        if (it == st.metadata.end()) throw FormatError(path + ": metadata '" + key + "' is missing");
        return it->second;
    };
    if (meta("vit.format_version") != kFormatVersion)
        throw FormatError(path + ": unsupported vit.format_version '" + meta("vit.format_version") + "'");
    ck.config = config_from_json(meta("vit.config"), path + " [vit.config]");
    const json labels = json::parse(meta("vit.labels"), nullptr, false);
    if (labels.is_discarded()) throw FormatError(path + ": metadata 'vit.labels' is not valid JSON");
    ck.labels = get_strings(labels, path, "metadata 'vit.labels'");
    const std::string psrc = path + " [vit.preprocess]";
    ck.preprocess = preprocess_from_json(parse_json_text(meta("vit.preprocess"), psrc), psrc);
    for (auto& kv : st.tensors) {
        const bool optim = kv.first.rfind("optimizer.", 0) == 0;
        (optim ? ck.optimizer : ck.weights).emplace(kv.first, std::move(kv.second));
    }
    if (auto it = st.metadata.find("vit.train_state"); it != st.metadata.end()) ck.train_state = it->second;
    return ck;
}

}  // namespace detail

using namespace detail;

std::string preprocess_to_json(const PreprocessConfig& p) {
    const json j = {
        {"channels", p.channels},
        {"height", p.height},
        {"width", p.width},
        {"interpolation", to_string(p.interpolation)},
        {"resize_mode", to_string(p.resize_mode)},
        {"crop_pct", p.crop_pct},
        {"mean", p.mean},
        {"std", p.std},
    };
    return j.dump();
}

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
    Checkpoint check = ckpt;  // validate before touching the disk
    check.weights.clear();
    check.source = path;
    validate_checkpoint(check);
    if (ckpt.labels.size() != static_cast<size_t>(ckpt.config.num_classes))
        config_error(path, std::to_string(ckpt.labels.size()) + " labels for " +
                               std::to_string(ckpt.config.num_classes) + " classes");
    Metadata meta = {
        {"vit.format_version", kFormatVersion},
        {"vit.config", config_to_json(ckpt.config)},
        {"vit.labels", json(ckpt.labels).dump()},
        {"vit.preprocess", preprocess_to_json(ckpt.preprocess)},
    };
    if (!ckpt.train_state.empty()) meta.emplace("vit.train_state", ckpt.train_state);
    if (ckpt.optimizer.empty()) {
        write_safetensors(path, ckpt.weights, meta);
        return;
    }
    TensorMap all = ckpt.weights;
    for (const auto& kv : ckpt.optimizer) all.emplace(kv.first, kv.second);
    write_safetensors(path, all, meta);
}

}  // namespace vit
