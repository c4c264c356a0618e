#include "vit/checkpoint.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "vit/error.hpp"
#include "vit/safetensors.hpp"

namespace vit {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kFormatVersion = "1";

// ---- small JSON helpers: every wrong type is a ConfigError naming the file and the key ----------

[[noreturn]] void config_error(const std::string& src, const std::string& what) {
    throw ConfigError(src + ": " + what);
}

int get_int(const json& j, const char* key, int def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_number_integer()) config_error(src, std::string("'") + key + "' must be an integer");
    const int64_t v = it->get<int64_t>();
    if (v < -1000000000 || v > 1000000000) config_error(src, std::string("'") + key + "' is out of range");
    return static_cast<int>(v);
}

double get_num(const json& j, const char* key, double def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_number()) config_error(src, std::string("'") + key + "' must be a number");
    return it->get<double>();
}

bool get_bool(const json& j, const char* key, bool def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_boolean()) config_error(src, std::string("'") + key + "' must be true or false");
    return it->get<bool>();
}

std::string get_str(const json& j, const char* key, const std::string& def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_string()) config_error(src, std::string("'") + key + "' must be a string");
    return it->get<std::string>();
}

std::vector<float> get_floats(const json& j, const char* key, std::vector<float> def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_array()) config_error(src, std::string("'") + key + "' must be a list of numbers");
    std::vector<float> out;
    for (const json& v : *it) {
        if (!v.is_number()) config_error(src, std::string("'") + key + "' must be a list of numbers");
        out.push_back(v.get<float>());
    }
    return out;
}

std::vector<std::string> get_strings(const json& j, const std::string& src, const std::string& what) {
    if (!j.is_array()) config_error(src, what + " must be a list of strings");
    std::vector<std::string> out;
    for (const json& v : j) {
        if (!v.is_string()) config_error(src, what + " must be a list of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

// An image size given as an int (square) or [h, w].
void get_size(const json& j, const char* key, int& h, int& w, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (it->is_number_integer()) {
        h = w = get_int(j, key, h, src);
    } else if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer()) {
        h = (*it)[0].get<int>();
        w = (*it)[1].get<int>();
    } else {
        config_error(src, std::string("'") + key + "' must be an integer or [height, width]");
    }
}

json parse_json_text(const std::string& text, const std::string& src) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw FormatError(src + ": not valid JSON");
    if (!j.is_object()) throw FormatError(src + ": JSON is not an object");
    return j;
}

json read_json_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw IoError("cannot open " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw IoError("cannot read " + p.string());
    return parse_json_text(ss.str(), p.string());
}

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

// Final consistency checks shared by every format; errors name the source.
void finish(Checkpoint& ck) {
    try {
        ck.config.validate();
        ck.preprocess.validate();
    } catch (const ConfigError& e) {
        config_error(ck.source, e.what());
    }
    if (ck.preprocess.channels != ck.config.in_chans)
        config_error(ck.source, "preprocessing has " + std::to_string(ck.preprocess.channels) +
                                    " channels but the model takes " + std::to_string(ck.config.in_chans));
    if (ck.preprocess.height != ck.config.img_h || ck.preprocess.width != ck.config.img_w)
        config_error(ck.source, "preprocessing size " + std::to_string(ck.preprocess.height) + "x" +
                                    std::to_string(ck.preprocess.width) + " differs from the model's image size " +
                                    std::to_string(ck.config.img_h) + "x" + std::to_string(ck.config.img_w));
    if (ck.labels.empty())
        for (int i = 0; i < ck.config.num_classes; ++i) ck.labels.push_back("class_" + std::to_string(i));
    if (ck.labels.size() != static_cast<size_t>(ck.config.num_classes))
        config_error(ck.source, std::to_string(ck.labels.size()) + " labels for " +
                                    std::to_string(ck.config.num_classes) + " classes");
}

// ---- timm folder -------------------------------------------------------------------------------

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

Checkpoint load_timm(const json& cfg, const fs::path& cfg_path, TensorMap weights) {
    const std::string src = cfg_path.string();
    Checkpoint ck;
    ck.format = CheckpointFormat::Timm;
    // Hub configs may nest the kwargs under "model_args"; they override the top level.
    json kwargs = cfg;
    if (auto it = cfg.find("model_args"); it != cfg.end() && it->is_object()) kwargs.update(*it);
    ck.config = config_from_json(kwargs.dump(), src);

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
        const std::string mode = get_str(pc, "crop_mode", "center", src);
        if (mode != "center") config_error(src, "unsupported crop_mode '" + mode + "' (only 'center')");
        p.mean = get_floats(pc, "mean", p.mean, src);
        p.std = get_floats(pc, "std", p.std, src);
        if (auto lit = pc.find("label_names"); lit != pc.end() && !lit->is_null()) label_names = &*lit;
    }
    if (label_names) {
        ck.labels = get_strings(*label_names, src, "'label_names'");
    } else if (fs::path lt = cfg_path.parent_path() / "labels.txt"; fs::is_regular_file(lt)) {
        ck.labels = read_labels_txt(lt);
    }
    ck.weights = std::move(weights);
    return ck;
}

// ---- Hugging Face folder -----------------------------------------------------------------------

bool is_hf_config(const json& cfg) {
    if (cfg.value("model_type", json()) == "vit") return true;
    auto it = cfg.find("architectures");
    if (it != cfg.end() && it->is_array())
        for (const json& a : *it)
            if (a == "ViTForImageClassification") return true;
    return false;
}

// Renames Hugging Face tensors to timm's and fuses the separate query/key/value projections into
// timm's single qkv projection: qkv.weight = [Wq; Wk; Wv] stacked along the output dimension, so
// x @ qkv.weight^T yields [q | k | v], which is how timm splits it.
TensorMap map_hf_weights(TensorMap hf, const std::string& src) {
    TensorMap out;
    const std::string enc = "vit.encoder.layer.";
    auto take = [&](const std::string& name) {
        auto it = hf.find(name);
        if (it == hf.end()) throw ShapeError(src + ": missing tensor '" + name + "'");
        Tensor t = std::move(it->second);
        hf.erase(it);
        return t;
    };
    // Layers present: collect indices from names like vit.encoder.layer.<i>.
    std::vector<int> layers;
    for (const auto& kv : hf) {
        if (kv.first.compare(0, enc.size(), enc) != 0) continue;
        const std::string rest = kv.first.substr(enc.size());
        const size_t dot = rest.find('.');
        int i = 0;
        try {
            i = std::stoi(rest.substr(0, dot));
        } catch (...) {
            continue;
        }
        if (layers.empty() || layers.back() != i) layers.push_back(i);
    }
    for (int i : layers) {
        const std::string h = enc + std::to_string(i) + ".";
        const std::string t = "blocks." + std::to_string(i) + ".";
        for (const char* kind : {"weight", "bias"}) {
            const std::string k = kind;
            const std::string a = h + "attention.attention.";
            if (k == "bias" && !hf.count(a + "query.bias")) continue;  // qkv_bias=False
            Tensor q = take(a + "query." + k), kk = take(a + "key." + k), v = take(a + "value." + k);
            if (q.shape != kk.shape || q.shape != v.shape || q.shape.empty())
                throw ShapeError(src + ": query/key/value " + k + " shapes differ in layer " + std::to_string(i) +
                                 ": " + shape_str(q.shape) + ", " + shape_str(kk.shape) + ", " + shape_str(v.shape));
            Tensor qkv;
            qkv.shape = q.shape;
            qkv.shape[0] *= 3;
            qkv.data = std::move(q.data);
            qkv.data.insert(qkv.data.end(), kk.data.begin(), kk.data.end());
            qkv.data.insert(qkv.data.end(), v.data.begin(), v.data.end());
            out[t + "attn.qkv." + k] = std::move(qkv);
            out[t + "attn.proj." + k] = take(h + "attention.output.dense." + k);
            out[t + "norm1." + k] = take(h + "layernorm_before." + k);
            out[t + "norm2." + k] = take(h + "layernorm_after." + k);
            out[t + "mlp.fc1." + k] = take(h + "intermediate.dense." + k);
            out[t + "mlp.fc2." + k] = take(h + "output.dense." + k);
        }
    }
    const std::pair<const char*, const char*> simple[] = {
        {"vit.embeddings.cls_token", "cls_token"},
        {"vit.embeddings.position_embeddings", "pos_embed"},
        {"vit.embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight"},
        {"vit.embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias"},
        {"vit.layernorm.weight", "norm.weight"},
        {"vit.layernorm.bias", "norm.bias"},
        {"classifier.weight", "head.weight"},
        {"classifier.bias", "head.bias"},
    };
    for (const auto& [from, to] : simple)
        if (hf.count(from)) out[to] = take(from);
    // Anything left (e.g. a pooler) keeps its name; the model reports it as unused.
    for (auto& kv : hf) out[kv.first] = std::move(kv.second);
    return out;
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

    // Labels from id2label ({"0": "cat", ...}); the class count from the classifier if present.
    if (auto it = cfg.find("id2label"); it != cfg.end() && !it->is_null()) {
        if (!it->is_object()) config_error(src, "'id2label' must be an object");
        ck.labels.assign(it->size(), std::string());
        std::vector<bool> seen(it->size(), false);
        for (auto e = it->begin(); e != it->end(); ++e) {
            size_t idx = 0;
            try {
                size_t used = 0;
                idx = std::stoul(e.key(), &used);
                if (used != e.key().size()) throw std::invalid_argument("");
            } catch (...) {
                config_error(src, "id2label key '" + e.key() + "' is not an integer");
            }
            if (idx >= ck.labels.size() || seen[idx] || !e->is_string())
                config_error(src, "id2label must map 0..N-1 to strings (bad entry '" + e.key() + "')");
            seen[idx] = true;
            ck.labels[idx] = e->get<std::string>();
        }
    }
    if (auto hw = weights.find("classifier.weight"); hw != weights.end() && hw->second.ndim() == 2)
        c.num_classes = static_cast<int>(hw->second.shape[0]);
    else if (!ck.labels.empty())
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
    ck.weights = map_hf_weights(std::move(weights), src);
    return ck;
}

// ---- native single file ------------------------------------------------------------------------

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

Checkpoint load_with_config(const fs::path& cfg_path, TensorMap weights) {
    const json cfg = read_json_file(cfg_path);
    return is_hf_config(cfg) ? load_hf(cfg, cfg_path, std::move(weights))
                             : load_timm(cfg, cfg_path, std::move(weights));
}

}  // namespace

// ---- public ------------------------------------------------------------------------------------

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
    const std::string pool = get_str(j, "global_pool", "token", src);
    if (pool != "token" && pool != "avg")
        config_error(src, "unsupported global_pool '" + pool + "' (expected token or avg)");
    c.global_pool = parse_global_pool(pool);
    // timm: fc_norm=None means "use a norm after pooling exactly when pooling is avg".
    c.fc_norm = get_bool(j, "fc_norm", c.global_pool == GlobalPool::Avg, src);
    double eps = 1e-6;
    eps = get_num(j, "norm_eps", eps, src);
    eps = get_num(j, "layer_norm_eps", eps, src);
    c.ln_eps = static_cast<float>(eps);
    // Variants of timm's ViT whose maths this library does not implement.
    if (get_int(j, "reg_tokens", 0, src) != 0) config_error(src, "reg_tokens are not supported");
    if (get_bool(j, "no_embed_class", false, src)) config_error(src, "no_embed_class is not supported");
    if (get_bool(j, "pre_norm", false, src)) config_error(src, "pre_norm is not supported");
    if (get_bool(j, "qk_norm", false, src)) config_error(src, "qk_norm is not supported");
    if (auto it = j.find("init_values"); it != j.end() && !it->is_null())
        config_error(src, "init_values (LayerScale) is not supported");
    try {
        c.validate();
    } catch (const ConfigError& e) {
        config_error(src, e.what());
    }
    return c;
}

// The shortest decimal that reads back as the same float (1e-06, not 9.99999997e-07), for readable JSON.
static double shortest_double(float f) {
    for (int digits = 1; digits < 9; ++digits) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
        const double d = std::strtod(buf, nullptr);
        if (static_cast<float>(d) == f) return d;
    }
    return static_cast<double>(f);
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
    return j.dump();
}

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

Checkpoint load_checkpoint(const std::string& path) {
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) throw IoError("no such file or directory: " + path);
    Checkpoint ck;
    if (fs::is_directory(p, ec)) {
        const fs::path model = p / "model.safetensors";
        const fs::path cfg = p / "config.json";
        if (!fs::exists(model, ec)) throw IoError(path + ": expected model file " + model.string());
        SafeTensors st = read_safetensors(model.string());
        if (st.metadata.count("vit.config")) {
            ck = load_native(std::move(st), model.string());
        } else {
            if (!fs::exists(cfg, ec)) throw IoError(path + ": expected configuration file " + cfg.string());
            ck = load_with_config(cfg, std::move(st.tensors));
        }
    } else {
        SafeTensors st = read_safetensors(path);
        if (st.metadata.count("vit.config")) {
            ck = load_native(std::move(st), path);
        } else {
            const fs::path cfg = p.parent_path().empty() ? fs::path("config.json") : p.parent_path() / "config.json";
            if (!fs::exists(cfg, ec))
                throw FormatError(path + ": the model configuration is missing (no 'vit.config' metadata and no " +
                                  cfg.string() + ")");
            ck = load_with_config(cfg, std::move(st.tensors));
        }
    }
    ck.source = path;
    finish(ck);
    return ck;
}

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
    Checkpoint check = ckpt;  // validate before touching the disk
    check.weights.clear();
    check.source = path;
    finish(check);
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

// Cubic convolution kernel of Keys with A = -0.75 (PyTorch's choice), split as PyTorch does:
// cc1 for |x| <= 1 and cc2 for 1 < |x| < 2.
static float cc1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static float cc2(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

std::vector<float> resample_grid_bicubic(const float* src, int gh, int gw, int channels, int nh, int nw) {
    if (gh <= 0 || gw <= 0 || nh <= 0 || nw <= 0 || channels <= 0)
        throw ConfigError("resample_grid_bicubic: sizes must be positive");
    constexpr float A = -0.75f;
    // For one axis: output index d maps to source coordinate (d + 0.5) * in/out - 0.5 (align_corners
    // false; not clamped at 0 for cubic). Its 4 taps are floor(x)-1 .. floor(x)+2, clamped to the
    // border, weighted by the kernel at distances t+1, t, 1-t, 2-t (t = x - floor(x)).
    struct Taps {
        int idx[4];
        float w[4];
    };
    auto taps = [&](int in, int out) {
        std::vector<Taps> r(static_cast<size_t>(out));
        const float scale = static_cast<float>(in) / static_cast<float>(out);
        for (int d = 0; d < out; ++d) {
            const float x = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
            const float f = std::floor(x);
            const float t = x - f;
            const int i0 = static_cast<int>(f);
            Taps& tp = r[static_cast<size_t>(d)];
            tp.w[0] = cc2(t + 1, A);
            tp.w[1] = cc1(t, A);
            tp.w[2] = cc1(1 - t, A);
            tp.w[3] = cc2(2 - t, A);
            for (int k = 0; k < 4; ++k) tp.idx[k] = std::min(std::max(i0 - 1 + k, 0), in - 1);
        }
        return r;
    };
    const std::vector<Taps> ty = taps(gh, nh), tx = taps(gw, nw);
    std::vector<float> out(static_cast<size_t>(nh) * nw * channels);
    // The grid is stored token-major: element (y, x, c) at (y * w + x) * channels + c. As PyTorch does,
    // interpolate each of the 4 source rows along x, then combine the rows along y.
    for (int oy = 0; oy < nh; ++oy)
        for (int ox = 0; ox < nw; ++ox) {
            const Taps& a = ty[static_cast<size_t>(oy)];
            const Taps& b = tx[static_cast<size_t>(ox)];
            float* o = &out[(static_cast<size_t>(oy) * nw + ox) * channels];
            for (int c = 0; c < channels; ++c) {
                float rows[4];
                for (int r = 0; r < 4; ++r) {
                    const float* row = src + static_cast<size_t>(a.idx[r]) * gw * channels + c;
                    rows[r] = row[static_cast<size_t>(b.idx[0]) * channels] * b.w[0] +
                              row[static_cast<size_t>(b.idx[1]) * channels] * b.w[1] +
                              row[static_cast<size_t>(b.idx[2]) * channels] * b.w[2] +
                              row[static_cast<size_t>(b.idx[3]) * channels] * b.w[3];
                }
                o[c] = rows[0] * a.w[0] + rows[1] * a.w[1] + rows[2] * a.w[2] + rows[3] * a.w[3];
            }
        }
    return out;
}

void set_image_size(Checkpoint& ck, int img_h, int img_w) {
    ViTConfig c = ck.config;
    if (img_h <= 0 || img_w <= 0 || img_h % c.patch_size != 0 || img_w % c.patch_size != 0)
        throw ConfigError("image size " + std::to_string(img_h) + "x" + std::to_string(img_w) +
                          " is not a positive multiple of the patch size " + std::to_string(c.patch_size));
    auto it = ck.weights.find("pos_embed");
    if (it == ck.weights.end()) throw ShapeError(ck.source + ": missing tensor 'pos_embed'");
    Tensor& pe = it->second;
    const Shape want{1, c.num_tokens(), c.embed_dim};
    if (pe.shape != want)
        throw ShapeError(ck.source + ": tensor 'pos_embed' has shape " + shape_str(pe.shape) + ", expected " +
                         shape_str(want));
    c.img_h = img_h;
    c.img_w = img_w;
    // Prefix (class token) rows are copied; only the patch grid is resampled.
    const size_t prefix = static_cast<size_t>(c.num_prefix()) * c.embed_dim;
    std::vector<float> grid = resample_grid_bicubic(pe.ptr() + prefix, ck.config.grid_h(), ck.config.grid_w(),
                                                    c.embed_dim, c.grid_h(), c.grid_w());
    std::vector<float> data(pe.data.begin(), pe.data.begin() + static_cast<std::ptrdiff_t>(prefix));
    data.insert(data.end(), grid.begin(), grid.end());
    pe = Tensor({1, c.num_tokens(), c.embed_dim}, std::move(data));
    ck.config = c;
    ck.preprocess.height = img_h;
    ck.preprocess.width = img_w;
}

}  // namespace vit
