// timm's Hub layout (export.hpp): the inverse of what src/io/checkpoint/timm_folder.cpp reads.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "vit/util/atomic_file.hpp"
#include "io/checkpoint/formats.hpp"
#include "io/export/shared.hpp"
#include "vit/io/architectures.hpp"
#include "vit/util/error.hpp"
#include "vit/io/export.hpp"
#include "vit/image/preprocess.hpp"

namespace vit {

namespace {

using ojson = nlohmann::ordered_json;  // keeps the keys in the order timm writes them

// timm's pretrained_cfg for our preprocessing, with the fields timm itself writes for a ViT.
ojson pretrained_cfg(const Checkpoint& ck) {
    const PreprocessConfig& p = ck.preprocess;
    const bool direct = p.resize_mode == ResizeMode::Direct;
    ojson cfg = {
        {"input_size", {p.channels, p.height, p.width}},
        {"fixed_input_size", true},
        {"interpolation", to_string(p.interpolation)},
        // A direct resize is timm's "squash" without a crop (each side to floor(size / 1)).
        {"crop_pct", direct ? 1.0 : p.crop_pct},
        {"crop_mode", detail::timm_crop_mode_name(p.resize_mode)},
        {"mean", detail::readable_floats(p.mean)},
        {"std", detail::readable_floats(p.std)},
        {"num_classes", ck.config.num_classes},
        {"first_conv", "patch_embed.proj"},
    };
    cfg["classifier"] = ck.config.distilled ? ojson::array({"head", "head_dist"}) : ojson("head");
    return cfg;
}

}  // namespace

ExportReport export_timm_folder(const std::string& dir, const Checkpoint& ckpt) {
    const Checkpoint ck = detail::exportable_checkpoint(ckpt, dir);
    const std::string weights_path = (std::filesystem::path(dir) / "model.safetensors").string();
    const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
    TimmArchitectureMatch arch;
    try {
        arch = match_timm_architecture(ck.config);
    } catch (const ConfigError& e) {
        throw ConfigError(config_path + ": " + e.what());
    }
    ojson cfg = {
        {"architecture", arch.architecture},
        {"num_classes", ck.config.num_classes},
        {"num_features", ck.config.embed_dim},
        {"global_pool", to_string(ck.config.global_pool)},
        {"model_args", ojson::parse(arch.model_args)},
        {"pretrained_cfg", pretrained_cfg(ck)},
    };
    if (!ck.labels.empty()) cfg["label_names"] = ck.labels;

    detail::prepare_export_folder(dir, {"model.safetensors", "config.json"});
    write_safetensors(weights_path, ck.weights, detail::export_metadata("timm"));
    write_text_atomic(config_path, cfg.dump(2) + "\n");
    return {{weights_path, config_path}, arch.architecture, {}};
}

}  // namespace vit
