// Hugging Face folders: model.safetensors + config.json (+ preprocessor_config.json) as transformers'
// save_pretrained writes them. The model families (hf_vit.cpp, hf_dinov2.cpp) rename the tensors onto
// timm's; this file reads what they share and picks the family from config.json's model_type.
#include "io/checkpoint/hf.hpp"
#include "vit/util/error.hpp"
#include "vit/image/preprocess.hpp"

namespace vit::detail {

namespace {

struct HfFamily {
    const char* model_type;  // transformers' model_type
    const char* arch;        // the class-name prefix of its architectures ("ViT" in ViTModel)
    double eps;              // its config's layer_norm_eps default
    // transformers resamples the position embedding to every input size (DINOv2: bicubic,
    // align_corners=False, the class row kept); ViT and DeiT refuse other sizes by default.
    bool any_size;
};
// The more specific architecture prefix first ("Dinov2WithRegisters" before "Dinov2").
const HfFamily kFamilies[] = {
    {"vit", "ViT", 1e-12, false},
    {"deit", "DeiT", 1e-12, false},
    {"dinov2_with_registers", "Dinov2WithRegisters", 1e-6, true},
    {"dinov2", "Dinov2", 1e-6, true},
};

const HfFamily& family_of(const json& cfg, const std::string& src) {
    std::string type = get_str(cfg, "model_type", "", src);
    // An old config without model_type: the family of the first class name that has one.
    if (auto it = cfg.find("architectures"); type.empty() && it != cfg.end() && it->is_array())
        for (const json& a : *it)
            for (const HfFamily& f : kFamilies)
                if (type.empty() && a.is_string() && a.get<std::string>().rfind(f.arch, 0) == 0) type = f.model_type;
    std::string known;
    for (const HfFamily& f : kFamilies) {
        if (type == f.model_type) return f;
        known += std::string(known.empty() ? "" : ", ") + f.model_type;
    }
    config_error(src, "unsupported Hugging Face model_type '" + type + "' (supported: " + known + ")");
}

}  // namespace

bool is_hf_config(const json& cfg) { return cfg.contains("model_type") || cfg.contains("architectures"); }

bool hf_architecture_is(const json& cfg, const std::string& name) {
    auto it = cfg.find("architectures");
    if (it == cfg.end() || !it->is_array()) return false;
    for (const json& a : *it)
        if (a == name) return true;
    return false;
}

std::string hf_prefix(const TensorMap& weights, const std::string& base) {
    const std::string pre = base + ".";
    for (const auto& kv : weights)
        if (kv.first.compare(0, pre.size(), pre) == 0) return pre;
    return "";
}

void read_hf_encoder(const json& cfg, const std::string& src, double default_eps, ViTConfig& c) {
    c.embed_dim = get_int(cfg, "hidden_size", 768, src);
    c.depth = get_int(cfg, "num_hidden_layers", 12, src);
    c.num_heads = get_int(cfg, "num_attention_heads", 12, src);
    c.img_h = c.img_w = 224;
    get_size(cfg, "image_size", c.img_h, c.img_w, src);
    c.patch_size = get_int(cfg, "patch_size", 16, src);
    c.in_chans = get_int(cfg, "num_channels", 3, src);
    c.qkv_bias = get_bool(cfg, "qkv_bias", true, src);
    c.ln_eps = static_cast<float>(get_num(cfg, "layer_norm_eps", default_eps, src));
    c.class_token = true;
    const std::string act = get_str(cfg, "hidden_act", "gelu", src);
    if (act != "gelu") config_error(src, "unsupported hidden_act '" + act + "' (only exact 'gelu')");
    if (c.embed_dim <= 0) config_error(src, "hidden_size must be positive");
}

Checkpoint load_hf(const json& cfg, const fs::path& cfg_path, TensorMap weights, const std::string& weights_file) {
    const std::string src = cfg_path.string();
    const HfFamily& family = family_of(cfg, src);
    Checkpoint ck;
    ck.format = CheckpointFormat::HuggingFace;
    ck.source = weights_file;
    ViTConfig& c = ck.config;
    read_hf_encoder(cfg, src, family.eps, c);
    const std::string type = family.model_type;
    ck.weights = type == "vit" || type == "deit" ? load_hf_vit(cfg, type, src, std::move(weights), weights_file, c)
                                                 : load_hf_dinov2(cfg, type, src, std::move(weights), weights_file, c);

    // Labels from id2label ({"0": "cat", ...}) for a classifier. The class count is the classifier's rows
    // (the families read it): transformers writes a default id2label (LABEL_0, LABEL_1) even for a model
    // without one, and an empty id2label (num_labels 0, as the export writes) has no classifier either.
    if (auto it = cfg.find("id2label"); c.num_classes > 0 && it != cfg.end() && !it->is_null())
        ck.labels = index_labels(*it, src, "'id2label'");

    ck.preprocess = read_hf_preprocessor(cfg_path, c);
    // config.json's image_size fixes the position embedding's grid. Where the processor feeds another
    // size (DINOv2: crops of 224 for image_size 518), transformers' DINOv2 resamples the grid on every
    // call; here it is resampled once, by set_image_size (timm's filter: bicubic, align_corners=False,
    // antialiased, class row kept). That is the registers variant's filter; plain DINOv2 in transformers
    // does not antialias, so where the grid shrinks its position rows differ slightly from transformers'.
    const PreprocessConfig& p = ck.preprocess;
    if (family.any_size && (p.height != c.img_h || p.width != c.img_w)) {
        try {
            set_image_size(ck, p.height, p.width);
        } catch (const ConfigError& e) {
            config_error((cfg_path.parent_path() / "preprocessor_config.json").string(), e.what());
        }
    }
    return ck;
}

}  // namespace vit::detail
