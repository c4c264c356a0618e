// timm folders: model.safetensors + config.json, either timm's VisionTransformer keyword arguments or
// the Hub layout that names the architecture (see timm_kwargs).
#include <fstream>

#include "io/checkpoint/formats.hpp"
#include "vit/io/architectures.hpp"
#include "vit/util/error.hpp"
#include "vit/image/preprocess.hpp"

namespace vit {
namespace detail {

std::vector<std::string> read_labels_txt(const fs::path& p) {
    std::vector<std::string> out;
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
    }
    while (!out.empty() && out.back().empty()) out.pop_back();  // trailing blank lines
    return out;
}

// The VisionTransformer keyword arguments of a timm config.json. The Hub layout names the architecture
// and timm builds it as create_model does: the registration's arguments, then "model_args" on top,
// then the top-level num_classes and global_pool. Older folders list the arguments at the top level
// (optionally under "model_args" too, and maybe with an "architecture" that is no registration name,
// such as "timm.VisionTransformer"): the shapes at the top level mark that form.
json timm_kwargs(const json& cfg, const std::string& src) {
    auto model_args = cfg.find("model_args");
    if (model_args != cfg.end() && !model_args->is_null() && !model_args->is_object())
        config_error(src, "'model_args' must be an object");
    const bool has_args = model_args != cfg.end() && model_args->is_object();
    if (!cfg.contains("architecture") || cfg.contains("embed_dim")) {
        json kwargs = cfg;
        if (has_args) kwargs.update(*model_args);
        return kwargs;
    }
    const std::string arch = get_str(cfg, "architecture", "", src);
    json kwargs;
    try {
        kwargs = json::parse(timm_architecture_args(arch));
    } catch (const ConfigError& e) {
        config_error(src, e.what());
    }
    if (has_args) kwargs.update(*model_args);
    for (const char* key : {"num_classes", "global_pool"})
        if (auto it = cfg.find(key); it != cfg.end() && !it->is_null()) kwargs[key] = *it;
    return kwargs;
}

namespace {

// pretrained_cfg's crop_mode: the names timm's transforms_imagenet_eval tests for, beside our modes.
struct TimmCropMode {
    const char* name;
    ResizeMode mode;
};
constexpr TimmCropMode kTimmCropModes[] = {
    {"center", ResizeMode::ShorterSideCrop},
    {"squash", ResizeMode::Squash},
    {"border", ResizeMode::Border},
};

}  // namespace

// (timm treats any other value as "center"; a name we do not know is refused instead, so that a typo or
// a newer timm mode is not silently run with another geometry.)
ResizeMode timm_crop_mode(const std::string& name, const std::string& src) {
    for (const TimmCropMode& m : kTimmCropModes)
        if (name == m.name) return m.mode;
    config_error(src, "pretrained_cfg 'crop_mode' must be center, squash or border, got '" + name + "'");
}

const char* timm_crop_mode_name(ResizeMode mode) {
    // A direct resize is timm's "squash" written with crop_pct 1 (each side to floor(size / 1)).
    if (mode == ResizeMode::Direct) return "squash";
    for (const TimmCropMode& m : kTimmCropModes)
        if (mode == m.mode) return m.name;
    throw ConfigError(std::string("resize mode '") + to_string(mode) + "' has no timm crop_mode");
}

Checkpoint load_timm(const json& cfg, const fs::path& cfg_path, TensorMap weights) {
    const std::string src = cfg_path.string();
    Checkpoint ck;
    ck.format = CheckpointFormat::Timm;
    ck.config = config_from_json(timm_kwargs(cfg, src).dump(), src);

    // Preprocessing: timm's pretrained_cfg, defaulting to the ViT defaults (bicubic, crop 0.9, 0.5).
    PreprocessConfig& p = ck.preprocess;
    p.channels = ck.config.in_chans;
    p.height = ck.config.img_h;
    p.width = ck.config.img_w;
    p.resize_mode = ResizeMode::ShorterSideCrop;
    p.mean.assign(static_cast<size_t>(std::max(p.channels, 0)), 0.5f);
    p.std = p.mean;
    const json* label_names = nullptr;
    if (auto lit = cfg.find("label_names"); lit != cfg.end() && !lit->is_null()) label_names = &*lit;
    if (auto it = cfg.find("pretrained_cfg"); it != cfg.end() && !it->is_null()) {
        const json& pc = *it;
        if (!pc.is_object()) config_error(src, "'pretrained_cfg' must be an object");
        if (auto is = pc.find("input_size"); is != pc.end() && !is->is_null()) {
            if (!is->is_array() || is->size() != 3 || !(*is)[0].is_number_integer() ||
                !(*is)[1].is_number_integer() || !(*is)[2].is_number_integer())
                config_error(src, "'input_size' must be [channels, height, width]");
            p.channels = (*is)[0].get<int>();
            p.height = (*is)[1].get<int>();
            p.width = (*is)[2].get<int>();
        }
        try {
            p.interpolation = parse_interpolation(get_str(pc, "interpolation", "bicubic", src));
        } catch (const ConfigError& e) {
            config_error(src, e.what());
        }
        p.crop_pct = get_num(pc, "crop_pct", 0.9, src);
        // timm's "squash" with crop_pct 1 resizes each side straight to the input size: the direct resize
        // (how a Hugging Face model's preprocessing is exported, export.hpp), kept under that name.
        p.resize_mode = timm_crop_mode(get_str(pc, "crop_mode", "center", src), src);
        if (p.resize_mode == ResizeMode::Squash && p.crop_pct == 1.0) p.resize_mode = ResizeMode::Direct;
        p.mean = get_floats(pc, "mean", p.mean, src);
        p.std = get_floats(pc, "std", p.std, src);
        if (auto lit = pc.find("label_names"); lit != pc.end() && !lit->is_null()) label_names = &*lit;
    }
    if (label_names) {
        ck.labels = label_names->is_object() ? index_labels(*label_names, src, "'label_names'")
                                             : get_strings(*label_names, src, "'label_names'");
    } else if (fs::path lt = cfg_path.parent_path() / "labels.txt"; fs::is_regular_file(lt)) {
        ck.labels = read_labels_txt(lt);
    }
    ck.weights = std::move(weights);
    return ck;
}

}  // namespace detail

using namespace detail;

ViTConfig config_from_json(const std::string& text, const std::string& src) {
    const json j = parse_json_text(text, src);
    ViTConfig c;  // timm's VisionTransformer defaults where a key is absent
    c.img_h = c.img_w = 224;
    get_size(j, "img_size", c.img_h, c.img_w, src);
    c.patch_size = get_int(j, "patch_size", 16, src);
    c.in_chans = get_int(j, "in_chans", 3, src);
    c.num_classes = get_int(j, "num_classes", 1000, src);
    c.embed_dim = get_int(j, "embed_dim", 768, src);
    c.depth = get_int(j, "depth", 12, src);
    c.num_heads = get_int(j, "num_heads", 12, src);
    c.mlp_ratio = get_num(j, "mlp_ratio", 4.0, src);
    c.qkv_bias = get_bool(j, "qkv_bias", true, src);
    c.class_token = get_bool(j, "class_token", true, src);
    c.distilled = get_bool(j, "distilled", false, src);
    c.reg_tokens = get_int(j, "reg_tokens", 0, src);
    c.no_embed_class = get_bool(j, "no_embed_class", false, src);
    c.pre_norm = get_bool(j, "pre_norm", false, src);
    c.init_values = static_cast<float>(get_num(j, "init_values", 0.0, src));
    try {
        c.global_pool = parse_global_pool(get_str(j, "global_pool", "token", src));
        c.act = parse_activation(get_str(j, "act_layer", "gelu", src));
    } catch (const ConfigError& e) {
        config_error(src, e.what());
    }
    // timm: fc_norm=None means "use a norm after pooling exactly when pooling is avg".
    c.fc_norm = get_bool(j, "fc_norm", c.global_pool == GlobalPool::Avg, src);
    double eps = 1e-6;
    eps = get_num(j, "norm_eps", eps, src);
    eps = get_num(j, "layer_norm_eps", eps, src);
    c.ln_eps = static_cast<float>(eps);
    // Variants of timm's ViT whose maths this library does not implement.
    if (get_bool(j, "qk_norm", false, src)) config_error(src, "qk_norm is not supported");
    if (!get_bool(j, "final_norm", true, src)) config_error(src, "final_norm=false is not supported");
    if (get_str(j, "pos_embed", "learn", src) != "learn") config_error(src, "only pos_embed 'learn' is supported");
    try {
        c.validate();
    } catch (const ConfigError& e) {
        config_error(src, e.what());
    }
    return c;
}

std::string config_to_json(const ViTConfig& c) {
    const json j = {
        {"img_size", {c.img_h, c.img_w}},
        {"patch_size", c.patch_size},
        {"in_chans", c.in_chans},
        {"num_classes", c.num_classes},
        {"embed_dim", c.embed_dim},
        {"depth", c.depth},
        {"num_heads", c.num_heads},
        {"mlp_ratio", c.mlp_ratio},
        {"qkv_bias", c.qkv_bias},
        {"class_token", c.class_token},
        {"global_pool", to_string(c.global_pool)},
        {"fc_norm", c.fc_norm},
        {"layer_norm_eps", shortest_double(c.ln_eps)},
    };
    // The variants' keys only where they differ from timm's defaults, so plain configs stay as before.
    json v = j;
    if (c.distilled) v["distilled"] = true;
    if (c.reg_tokens) v["reg_tokens"] = c.reg_tokens;
    if (c.no_embed_class) v["no_embed_class"] = true;
    if (c.pre_norm) v["pre_norm"] = true;
    if (c.layer_scale()) v["init_values"] = shortest_double(c.init_values);
    if (c.act != Activation::Gelu) v["act_layer"] = to_string(c.act);
    return v.dump();
}

}  // namespace vit
