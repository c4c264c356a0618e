#include "vit/model/model.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "vit/util/error.hpp"
#include "vit/model/imagenet_labels.hpp"
#include "vit/util/logits.hpp"
#include "vit/util/memory.hpp"
#include "model/shape_check.hpp"

namespace vit {

ParamLayout param_layout(const ViTConfig& c) {
    const int64_t D = c.embed_dim, Hd = c.mlp_hidden(), p = c.patch_size, K = c.num_classes;
    ParamLayout L;
    size_t offset = 0;
    // The place of the tensors being added (ParamView::block, decay_layer, head).
    int block = -1, decay_layer = 0;
    bool head = false;
    // Appends a tensor and returns its offset; 16-float (64-byte) alignment keeps vector loads aligned.
    auto add = [&](std::string name, Shape shape, ParamRole role, int64_t fan_in = 0) {
        ParamView v{std::move(name), std::move(shape), role, fan_in, offset, 0, block, decay_layer, head};
        v.numel = static_cast<size_t>(shape_numel(v.shape));
        offset += (v.numel + 15) / 16 * 16;
        L.views.push_back(std::move(v));
        return L.views.back().offset;
    };
    auto linear = [&](const std::string& name, int64_t out, int64_t in, bool bias, size_t& w, size_t& b) {
        w = add(name + ".weight", {out, in}, ParamRole::Weight, in);
        b = bias ? add(name + ".bias", {out}, ParamRole::Bias, in) : kNoParam;
    };
    auto norm = [&](const std::string& name, size_t& w, size_t& b) {
        w = add(name + ".weight", {D}, ParamRole::NormWeight);
        b = add(name + ".bias", {D}, ParamRole::NormBias);
    };
    ParamSlots& s = L.slots;
    s = ParamSlots{};
    const size_t none = kNoParam;
    s.cls = s.dist = s.reg = s.norm_pre_w = s.norm_pre_b = s.head_w = s.head_b = s.head_dist_w = s.head_dist_b = none;
    s.pool = AttnPoolParams{none, none, none, none, none, none, none, none, none, none, none, none, none};

    const int64_t patch_fan_in = int64_t(c.in_chans) * p * p;
    // (The order fixes the random initialisation's draws: plain models keep the one they always had.)
    s.patch_w = add("patch_embed.proj.weight", {D, c.in_chans, p, p}, ParamRole::Weight, patch_fan_in);
    s.patch_b = c.patch_bias() ? add("patch_embed.proj.bias", {D}, ParamRole::Bias, patch_fan_in) : none;
    if (c.class_token) s.cls = add("cls_token", {1, 1, D}, ParamRole::Token);
    if (c.distilled) s.dist = add("dist_token", {1, 1, D}, ParamRole::Token);
    if (c.reg_tokens > 0) s.reg = add("reg_token", {1, c.reg_tokens, D}, ParamRole::Token);
    s.pos = add("pos_embed", {1, c.pos_tokens(), D}, ParamRole::PosEmbed);
    if (c.pre_norm) {
        decay_layer = c.depth;  // timm's '^norm' pattern puts norm_pre with the final norm
        norm("norm_pre", s.norm_pre_w, s.norm_pre_b);
    }
    for (int i = 0; i < c.depth; ++i) {
        block = i;
        decay_layer = i + 1;
        const std::string b = "blocks." + std::to_string(i) + ".";
        BlockParams o{};
        norm(b + "norm1", o.norm1_w, o.norm1_b);
        linear(b + "attn.qkv", 3 * D, D, c.qkv_bias, o.qkv_w, o.qkv_b);
        linear(b + "attn.proj", D, D, true, o.proj_w, o.proj_b);
        o.ls1 = c.layer_scale() ? add(b + "ls1.gamma", {D}, ParamRole::LayerScale) : none;
        norm(b + "norm2", o.norm2_w, o.norm2_b);
        linear(b + "mlp.fc1", Hd, D, true, o.fc1_w, o.fc1_b);
        linear(b + "mlp.fc2", D, Hd, true, o.fc2_w, o.fc2_b);
        o.ls2 = c.layer_scale() ? add(b + "ls2.gamma", {D}, ParamRole::LayerScale) : none;
        s.blocks.push_back(o);
    }
    // timm keeps exactly one of `norm` (before pooling) and `fc_norm` (after it).
    block = c.depth;
    decay_layer = c.fc_norm ? c.depth + 1 : c.depth;
    norm(c.fc_norm ? "fc_norm" : "norm", s.norm_w, s.norm_b);
    decay_layer = c.depth + 1;
    if (c.global_pool == GlobalPool::Map) {
        AttnPoolParams& a = s.pool;
        a.latent = add("attn_pool.latent", {1, 1, D}, ParamRole::Latent);
        linear("attn_pool.q", D, D, true, a.q_w, a.q_b);
        linear("attn_pool.kv", 2 * D, D, true, a.kv_w, a.kv_b);
        linear("attn_pool.proj", D, D, true, a.proj_w, a.proj_b);
        norm("attn_pool.norm", a.norm_w, a.norm_b);
        linear("attn_pool.mlp.fc1", Hd, D, true, a.fc1_w, a.fc1_b);
        linear("attn_pool.mlp.fc2", D, Hd, true, a.fc2_w, a.fc2_b);
    }
    if (K > 0) {
        head = true;
        linear("head", K, c.num_features(), true, s.head_w, s.head_b);
        if (c.distilled) linear("head_dist", K, D, true, s.head_dist_w, s.head_dist_b);
    }
    L.size = offset;
    return L;
}

Parameters::Parameters(const ViTConfig& cfg) : layout_(param_layout(cfg)) { data_.assign(layout_.size, 0.0f); }

const ParamView& Parameters::view(const std::string& name) const {
    for (const auto& v : layout_.views)
        if (v.name == name) return v;
    throw ShapeError("the model has no parameter '" + name + "'");
}

bool Parameters::has(const std::string& name) const {
    const auto& v = layout_.views;
    return std::any_of(v.begin(), v.end(), [&](const ParamView& p) { return p.name == name; });
}

std::vector<std::string> Parameters::load(const TensorMap& weights, const std::string& source) {
    for (const auto& v : layout_.views) {
        const auto it = weights.find(v.name);
        if (it == weights.end())
            throw ShapeError(source + ": missing tensor '" + v.name + "' (expected shape " + shape_str(v.shape) + ")");
        if (it->second.shape != v.shape)
            throw ShapeError(source + ": tensor '" + v.name + "' has shape " + shape_str(it->second.shape) +
                             ", expected " + shape_str(v.shape));
        std::copy(it->second.data.begin(), it->second.data.end(), data_.begin() + static_cast<long>(v.offset));
    }
    std::vector<std::string> unused;
    for (const auto& kv : weights)
        if (!has(kv.first)) unused.push_back(kv.first);
    return unused;
}

TensorMap Parameters::to_map() const {
    TensorMap m;
    for (const auto& v : layout_.views) {
        const float* p = data_.data() + v.offset;
        m.emplace(v.name, Tensor(v.shape, std::vector<float>(p, p + v.numel)));
    }
    return m;
}

Model::Model(const Checkpoint& ckpt)
    : config_(ckpt.config), preprocess_(ckpt.preprocess), labels_(ckpt.labels), params_((ckpt.config.validate(), ckpt.config)) {
    preprocess_.validate();
    if (labels_.size() != static_cast<size_t>(config_.num_classes))
        throw ConfigError(ckpt.source + ": " + std::to_string(labels_.size()) + " labels for " +
                          std::to_string(config_.num_classes) + " classes");
    unused_ = params_.load(ckpt.weights, ckpt.source);
}

namespace {
// timm's trunc_normal_(std) cuts at +-2 (absolute), i.e. +-100 std for std 0.02: in practice a normal.
void trunc_normal(float* p, size_t n, float std, std::mt19937_64& rng) {
    std::normal_distribution<float> dist(0.0f, std);
    for (size_t i = 0; i < n; ++i) {
        float x;
        do x = dist(rng);
        while (std::fabs(x) > 2.0f);
        p[i] = x;
    }
}
}  // namespace

Init parse_init(const std::string& s) {
    if (s == "timm") return Init::Timm;
    if (s == "torch") return Init::Torch;
    throw ConfigError("unknown initialisation '" + s + "' (expected timm or torch)");
}

Model::Model(const ViTConfig& cfg, const PreprocessConfig& pre, std::vector<std::string> labels, uint64_t seed,
             Init init)
    : config_(cfg), preprocess_(pre), labels_(std::move(labels)), params_((cfg.validate(), cfg)) {
    preprocess_.validate();
    if (labels_.empty())
        labels_ = default_labels(cfg.num_classes);
    if (labels_.size() != static_cast<size_t>(cfg.num_classes))
        throw ConfigError(std::to_string(labels_.size()) + " labels for " + std::to_string(cfg.num_classes) + " classes");
    std::mt19937_64 rng(seed);
    // PyTorch's default for Linear and Conv2d (kaiming_uniform with a = sqrt(5), and the bias bound):
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = the input features of the layer.
    auto torch_uniform = [&](float* p, size_t n, int64_t fan_in) {
        const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
        std::uniform_real_distribution<float> dist(-bound, bound);
        for (size_t i = 0; i < n; ++i) p[i] = dist(rng);
    };
    const ParamSlots& slots = params_.slots();
    for (const auto& v : params_.views()) {
        float* p = params_.data() + v.offset;
        const bool patch = v.offset == slots.patch_w || v.offset == slots.patch_b;
        switch (v.role) {
        case ParamRole::NormWeight: std::fill(p, p + v.numel, 1.0f); break;
        case ParamRole::NormBias: std::fill(p, p + v.numel, 0.0f); break;
        case ParamRole::LayerScale: std::fill(p, p + v.numel, cfg.init_values); break;
        case ParamRole::Token:
            if (init == Init::Timm) trunc_normal(p, v.numel, 1e-6f, rng);
            else std::fill(p, p + v.numel, 0.0f);
            break;
        case ParamRole::Latent:  // timm: trunc_normal_tf_(latent, std=latent_dim^-0.5)
            trunc_normal(p, v.numel, 1.0f / std::sqrt(static_cast<float>(cfg.embed_dim)), rng);
            break;
        case ParamRole::PosEmbed:
            if (init == Init::Timm) {
                trunc_normal(p, v.numel, 0.02f, rng);
            } else {
                std::normal_distribution<float> nd(0.0f, 0.02f);
                for (size_t i = 0; i < v.numel; ++i) p[i] = nd(rng);
            }
            break;
        case ParamRole::Weight:
        case ParamRole::Bias:
            // The patch embedding is always PyTorch's Conv2d default; Linear layers follow `init`.
            if (patch || init == Init::Torch) torch_uniform(p, v.numel, v.fan_in);
            else if (v.role == ParamRole::Bias) std::fill(p, p + v.numel, 0.0f);
            else trunc_normal(p, v.numel, 0.02f, rng);
            break;
        }
    }
}

void replace_head(Checkpoint& ck, int classes, uint64_t seed) {
    const ParamLayout old = param_layout(ck.config);
    for (size_t off : {old.slots.head_w, old.slots.head_b, old.slots.head_dist_w, old.slots.head_dist_b})
        for (const ParamView& v : old.views)
            if (v.offset == off) ck.weights.erase(v.name);
    ck.config.num_classes = classes;
    const ParamLayout now = param_layout(ck.config);
    std::mt19937_64 rng(seed);
    for (size_t off : {now.slots.head_w, now.slots.head_b, now.slots.head_dist_w, now.slots.head_dist_b})
        for (const ParamView& v : now.views) {
            if (v.offset != off) continue;
            Tensor t(v.shape);
            if (v.role == ParamRole::Weight) trunc_normal(t.ptr(), t.data.size(), 0.02f, rng);
            ck.weights[v.name] = std::move(t);
        }
}

Checkpoint Model::to_checkpoint() const {
    Checkpoint c;
    c.config = config_;
    c.preprocess = preprocess_;
    c.labels = labels_;
    c.weights = params_.to_map();
    c.format = CheckpointFormat::Native;
    return c;
}

void softmax_rows(const float* logits, int rows, int cols, float* probs) {
    for (int r = 0; r < rows; ++r) {
        const float* in = logits + int64_t(r) * cols;
        float* out = probs + int64_t(r) * cols;
        const double lse = log_sum_exp(in, cols);
        for (int j = 0; j < cols; ++j) out[j] = static_cast<float>(std::exp(in[j] - lse));
    }
}

}  // namespace vit
