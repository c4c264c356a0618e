// Hugging Face ViTForImageClassification folders: model.safetensors + config.json (+
// preprocessor_config.json), renamed to timm's tensors.
#include <cmath>

#include "formats.hpp"
#include "vit/error.hpp"

namespace vit::detail {

bool is_hf_config(const json& cfg) {
    if (cfg.value("model_type", json()) == "vit") return true;
    auto it = cfg.find("architectures");
    if (it != cfg.end() && it->is_array())
        for (const json& a : *it)
            if (a == "ViTForImageClassification") return true;
    return false;
}

Checkpoint load_hf(const json& cfg, const fs::path& cfg_path, TensorMap weights) {
    const std::string src = cfg_path.string();
    Checkpoint ck;
    ck.format = CheckpointFormat::HuggingFace;
    ViTConfig& c = ck.config;
    c.embed_dim = get_int(cfg, "hidden_size", 768, src);
    c.depth = get_int(cfg, "num_hidden_layers", 12, src);
    c.num_heads = get_int(cfg, "num_attention_heads", 12, src);
    const int inter = get_int(cfg, "intermediate_size", 3072, src);
    c.img_h = c.img_w = 224;
    get_size(cfg, "image_size", c.img_h, c.img_w, src);
    c.patch_size = get_int(cfg, "patch_size", 16, src);
    c.in_chans = get_int(cfg, "num_channels", 3, src);
    c.qkv_bias = get_bool(cfg, "qkv_bias", true, src);
    c.ln_eps = static_cast<float>(get_num(cfg, "layer_norm_eps", 1e-12, src));
    c.class_token = true;
    c.global_pool = GlobalPool::Token;  // ViTForImageClassification classifies the [CLS] token
    c.fc_norm = false;
    const std::string act = get_str(cfg, "hidden_act", "gelu", src);
    if (act != "gelu") config_error(src, "unsupported hidden_act '" + act + "' (only exact 'gelu')");
    if (c.embed_dim <= 0 || inter <= 0) config_error(src, "hidden_size and intermediate_size must be positive");
    c.mlp_ratio = static_cast<double>(inter) / c.embed_dim;
    if (c.mlp_hidden() != inter)
        config_error(src, "intermediate_size " + std::to_string(inter) + " is not representable as mlp_ratio");

    // Labels from id2label ({"0": "cat", ...}); the class count from the classifier if present, else
    // from id2label as Hugging Face counts num_labels (an empty one: no classifier, num_classes 0).
    const auto id2label = cfg.find("id2label");
    const bool has_id2label = id2label != cfg.end() && !id2label->is_null();
    if (has_id2label) ck.labels = index_labels(*id2label, src, "'id2label'");
    if (auto hw = weights.find("classifier.weight"); hw != weights.end() && hw->second.ndim() == 2)
        c.num_classes = static_cast<int>(hw->second.shape[0]);
    else if (has_id2label)
        c.num_classes = static_cast<int>(ck.labels.size());
    else
        c.num_classes = get_int(cfg, "num_labels", 2, src);

    // Preprocessing: ViTImageProcessor (direct resize, bilinear, mean/std 0.5) unless the folder's
    // preprocessor_config.json says otherwise. Without the file the model's own size is used.
    PreprocessConfig& p = ck.preprocess;
    p.channels = c.in_chans;
    p.height = c.img_h;
    p.width = c.img_w;
    p.resize_mode = ResizeMode::Direct;
    p.interpolation = Interpolation::Bilinear;
    p.crop_pct = 1.0;
    p.mean.assign(static_cast<size_t>(std::max(c.in_chans, 0)), 0.5f);
    p.std = p.mean;
    const fs::path pp = cfg_path.parent_path() / "preprocessor_config.json";
    if (fs::exists(pp)) {
        const json pj = read_json_file(pp);
        const std::string psrc = pp.string();
        if (auto s = pj.find("size"); s != pj.end() && !s->is_null()) {
            if (s->is_number_integer()) {
                p.height = p.width = s->get<int>();
            } else if (s->is_object() && s->contains("height") && s->contains("width")) {
                p.height = get_int(*s, "height", p.height, psrc);
                p.width = get_int(*s, "width", p.width, psrc);
            } else if (s->is_object() && s->contains("shortest_edge")) {
                p.height = p.width = get_int(*s, "shortest_edge", p.height, psrc);
            } else {
                config_error(psrc, "'size' must hold height and width or shortest_edge");
            }
        }
        // PIL resampling codes: 2 = BILINEAR, 3 = BICUBIC.
        const int resample = get_int(pj, "resample", 2, psrc);
        if (resample == 2) p.interpolation = Interpolation::Bilinear;
        else if (resample == 3) p.interpolation = Interpolation::Bicubic;
        else config_error(psrc, "unsupported resample " + std::to_string(resample) + " (2 bilinear or 3 bicubic)");
        if (!get_bool(pj, "do_rescale", true, psrc)) config_error(psrc, "do_rescale=false is not supported");
        const double rescale = get_num(pj, "rescale_factor", 1.0 / 255.0, psrc);
        if (std::abs(rescale * 255.0 - 1.0) > 1e-6) config_error(psrc, "only rescale_factor 1/255 is supported");
        if (get_bool(pj, "do_normalize", true, psrc)) {
            p.mean = get_floats(pj, "image_mean", p.mean, psrc);
            p.std = get_floats(pj, "image_std", p.std, psrc);
        } else {  // no normalisation: identity mean/std
            p.mean.assign(p.mean.size(), 0.0f);
            p.std.assign(p.std.size(), 1.0f);
        }
        // do_resize=false cannot be expressed; images must then already be the model's size, where a
        // direct resize is the identity, so the default is kept.
    }
    ck.weights = hf_to_timm_weights(std::move(weights), src);
    return ck;
}

}  // namespace vit::detail
