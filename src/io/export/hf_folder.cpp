// Hugging Face ViTForImageClassification folders (export.hpp): the inverse of what
// src/io/checkpoint/hf_folder.cpp reads, through the same renaming onto param_layout's slots
// (src/io/checkpoint/hf_vit.cpp, walked backwards).
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint/hf.hpp"
#include "vit/util/atomic_file.hpp"
#include "io/export/shared.hpp"
#include "vit/util/error.hpp"
#include "vit/io/export.hpp"
#include "vit/image/preprocess.hpp"

namespace vit {

namespace {

using ojson = nlohmann::ordered_json;  // keeps the keys in the order transformers writes them

// What Hugging Face's ViT has no place for, in the model's terms.
std::vector<std::string> inexpressible(const ViTConfig& c) {
    std::vector<std::string> out;
    if (!c.class_token) out.push_back("a model without a class token (class_token=false)");
    if (c.global_pool != GlobalPool::Token) out.push_back(std::string("global_pool '") + to_string(c.global_pool) + "'");
    if (c.fc_norm) out.push_back("a norm after pooling (fc_norm)");
    if (c.layer_scale()) out.push_back("LayerScale (init_values)");
    if (c.reg_tokens > 0) out.push_back("register tokens (reg_tokens=" + std::to_string(c.reg_tokens) + ")");
    if (c.distilled) out.push_back("a distillation token (distilled)");
    if (c.no_embed_class) out.push_back("a position embedding without the class token (no_embed_class)");
    if (c.pre_norm) out.push_back("a norm before the blocks (pre_norm)");
    if (c.act != Activation::Gelu) out.push_back(std::string("act_layer '") + to_string(c.act) + "' (only exact GELU)");
    return out;
}

// How the model's own preprocessing differs from ViTImageProcessor's direct resize, in words; empty
// where it is that resize (timm's squash without a crop is the same operation).
std::string own_resize(const PreprocessConfig& p) {
    switch (p.resize_mode) {
    case ResizeMode::Direct: return "";
    case ResizeMode::Squash:
        return p.crop_pct == 1.0 ? "" : "resizes both sides to size / crop_pct and crops the centre";
    case ResizeMode::Border:
        return "fits the longer side to size / crop_pct and crops or pads the centre, the same only for square "
               "images with crop_pct 1";
    case ResizeMode::ShorterSideCrop: break;
    }
    return "resizes the shorter side to size / crop_pct and crops the centre, the same only for square images "
           "with crop_pct 1";
}

ojson image_size(int h, int w) { return h == w ? ojson(h) : ojson::array({h, w}); }

}  // namespace

ExportReport export_hf_folder(const std::string& dir, const Checkpoint& ckpt) {
    const Checkpoint ck = detail::exportable_checkpoint(ckpt, dir);
    const ViTConfig& c = ck.config;
    const std::filesystem::path d(dir);
    const std::string weights_path = (d / "model.safetensors").string();
    const std::string config_path = (d / "config.json").string();
    const std::string preprocessor_path = (d / "preprocessor_config.json").string();
    if (const std::vector<std::string> missing = inexpressible(c); !missing.empty()) {
        std::string list;
        for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
        throw ConfigError(config_path + ": Hugging Face's ViTForImageClassification cannot express " + list);
    }

    // id2label as transformers writes it: string keys; an empty one means num_labels 0 (no classifier).
    ojson id2label = ojson::object(), label2id = ojson::object();
    for (size_t i = 0; i < ck.labels.size(); ++i) {
        id2label[std::to_string(i)] = ck.labels[i];
        label2id[ck.labels[i]] = i;
    }
    const ojson cfg = {
        {"architectures", {"ViTForImageClassification"}},
        {"model_type", "vit"},
        {"hidden_size", c.embed_dim},
        {"num_hidden_layers", c.depth},
        {"num_attention_heads", c.num_heads},
        {"intermediate_size", c.mlp_hidden()},
        {"hidden_act", "gelu"},
        {"hidden_dropout_prob", 0.0},
        {"attention_probs_dropout_prob", 0.0},
        {"initializer_range", 0.02},
        {"layer_norm_eps", detail::shortest_double(c.ln_eps)},
        {"image_size", image_size(c.img_h, c.img_w)},
        {"patch_size", c.patch_size},
        {"num_channels", c.in_chans},
        {"qkv_bias", c.qkv_bias},
        {"id2label", id2label},
        {"label2id", label2id},
    };

    const PreprocessConfig& p = ck.preprocess;
    ExportReport report;
    if (const std::string own = own_resize(p); !own.empty()) {
        std::ostringstream crop_pct;
        crop_pct << p.crop_pct;
        report.approximations.push_back(preprocessor_path + ": ViTImageProcessor resizes images straight to " +
                                        std::to_string(p.height) + "x" + std::to_string(p.width) +
                                        "; the model's own " + own + " (crop_pct " + crop_pct.str() + ")");
    }
    // PIL's resampling codes: 2 = BILINEAR, 3 = BICUBIC.
    const ojson preprocessor = {
        {"do_normalize", true},
        {"do_rescale", true},
        {"do_resize", true},
        {"image_mean", detail::readable_floats(p.mean)},
        {"image_processor_type", "ViTImageProcessor"},
        {"image_std", detail::readable_floats(p.std)},
        {"resample", p.interpolation == Interpolation::Bicubic ? 3 : 2},
        {"rescale_factor", 1.0 / 255.0},
        {"size", {{"height", p.height}, {"width", p.width}}},
    };

    const TensorMap weights = detail::hf_vit_weights(ck.weights, c, weights_path);
    detail::prepare_export_folder(dir, {"model.safetensors", "config.json", "preprocessor_config.json"});
    write_safetensors(weights_path, weights, detail::export_metadata("hf"));
    const std::string cfg_text = cfg.dump(2) + "\n", preprocessor_text = preprocessor.dump(2) + "\n";
    write_text_atomic(config_path, cfg_text);
    write_text_atomic(preprocessor_path, preprocessor_text);
    report.files = {weights_path, config_path, preprocessor_path};
    report.architecture = "ViTForImageClassification";
    return report;
}

}  // namespace vit
