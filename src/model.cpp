#include "vit/model.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "vit/error.hpp"

namespace vit {

std::vector<ParamView> param_layout(const ViTConfig& c) {
    const int64_t D = c.embed_dim, Hd = c.mlp_hidden(), p = c.patch_size;
    std::vector<ParamView> v;
    auto add = [&](std::string name, Shape shape) { v.push_back({std::move(name), std::move(shape), 0, 0}); };
    add("patch_embed.proj.weight", {D, c.in_chans, p, p});
    add("patch_embed.proj.bias", {D});
    if (c.class_token) add("cls_token", {1, 1, D});
    add("pos_embed", {1, c.num_tokens(), D});
    for (int i = 0; i < c.depth; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".";
        add(b + "norm1.weight", {D});
        add(b + "norm1.bias", {D});
        add(b + "attn.qkv.weight", {3 * D, D});
        if (c.qkv_bias) add(b + "attn.qkv.bias", {3 * D});
        add(b + "attn.proj.weight", {D, D});
        add(b + "attn.proj.bias", {D});
        add(b + "norm2.weight", {D});
        add(b + "norm2.bias", {D});
        add(b + "mlp.fc1.weight", {Hd, D});
        add(b + "mlp.fc1.bias", {Hd});
        add(b + "mlp.fc2.weight", {D, Hd});
        add(b + "mlp.fc2.bias", {D});
    }
    const std::string final_norm = c.fc_norm ? "fc_norm" : "norm";
    add(final_norm + ".weight", {D});
    add(final_norm + ".bias", {D});
    add("head.weight", {c.num_classes, D});
    add("head.bias", {c.num_classes});
    size_t offset = 0;
    for (auto& p : v) {
        p.offset = offset;
        p.numel = static_cast<size_t>(shape_numel(p.shape));
        // 16-float (64-byte) alignment of every tensor keeps vector loads aligned.
        offset += (p.numel + 15) / 16 * 16;
    }
    return v;
}

Parameters::Parameters(const ViTConfig& cfg) : views_(param_layout(cfg)) {
    const auto& last = views_.back();
    data_.assign(last.offset + (last.numel + 15) / 16 * 16, 0.0f);
}

const ParamView& Parameters::view(const std::string& name) const {
    for (const auto& v : views_)
        if (v.name == name) return v;
    throw ShapeError("the model has no parameter '" + name + "'");
}

bool Parameters::has(const std::string& name) const {
    return std::any_of(views_.begin(), views_.end(), [&](const ParamView& v) { return v.name == name; });
}

std::vector<std::string> Parameters::load(const TensorMap& weights, const std::string& source) {
    for (const auto& v : views_) {
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
    for (const auto& v : views_) {
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
        for (int i = 0; i < cfg.num_classes; ++i) labels_.push_back("class_" + std::to_string(i));
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
    const int64_t patch_fan_in = int64_t(cfg.in_chans) * cfg.patch_size * cfg.patch_size;
    for (const auto& v : params_.views()) {
        float* p = params_.data() + v.offset;
        const bool is_norm = v.name.find("norm") != std::string::npos;
        const bool is_bias = v.name.size() > 5 && v.name.compare(v.name.size() - 5, 5, ".bias") == 0;
        if (is_norm) {
            std::fill(p, p + v.numel, is_bias ? 0.0f : 1.0f);
        } else if (v.name.rfind("patch_embed.", 0) == 0) {
            torch_uniform(p, v.numel, patch_fan_in);
        } else if (v.name == "cls_token") {
            if (init == Init::Timm) trunc_normal(p, v.numel, 1e-6f, rng);
            else std::fill(p, p + v.numel, 0.0f);
        } else if (v.name == "pos_embed") {
            if (init == Init::Timm) {
                trunc_normal(p, v.numel, 0.02f, rng);
            } else {
                std::normal_distribution<float> nd(0.0f, 0.02f);
                for (size_t i = 0; i < v.numel; ++i) p[i] = nd(rng);
            }
        } else if (init == Init::Torch) {
            // Linear weight (out, in) and bias (out): both bounded by the layer's input width.
            const ParamView& weight = is_bias ? params_.view(v.name.substr(0, v.name.size() - 5) + ".weight") : v;
            torch_uniform(p, v.numel, weight.shape[1]);
        } else if (is_bias) {
            std::fill(p, p + v.numel, 0.0f);
        } else {
            trunc_normal(p, v.numel, 0.02f, rng);
        }
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

Tensor run_forward(const Model& model, const Tensor& x, int batch, std::vector<Tensor>* attention) {
    const ViTConfig& c = model.config();
    const Shape want{x.ndim() == 4 ? x.shape[0] : -1, c.in_chans, c.img_h, c.img_w};
    if (x.ndim() != 4 || x.shape[1] != want[1] || x.shape[2] != want[2] || x.shape[3] != want[3])
        throw ShapeError("input has shape " + shape_str(x.shape) + ", expected [N, " + std::to_string(c.in_chans) +
                         ", " + std::to_string(c.img_h) + ", " + std::to_string(c.img_w) + "]");
    const int64_t N = x.shape[0];
    batch = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(batch, N)));
    RunOptions opts;
    opts.capture_attention = attention != nullptr;
    Runner runner(model, batch, opts);
    const int64_t image = int64_t(c.in_chans) * c.img_h * c.img_w;
    const int64_t T = c.num_tokens(), H = c.num_heads;
    Tensor logits({N, c.num_classes});
    if (attention) {
        attention->clear();
        for (int i = 0; i < c.depth; ++i) attention->emplace_back(Shape{N, H, T, T});
    }
    for (int64_t i = 0; i < N; i += batch) {
        const int n = static_cast<int>(std::min<int64_t>(batch, N - i));
        const float* out = runner.forward(x.ptr() + i * image, n);
        std::copy(out, out + int64_t(n) * c.num_classes, logits.ptr() + i * c.num_classes);
        if (attention)
            for (int b = 0; b < c.depth; ++b) {
                const float* a = runner.attention(b);
                std::copy(a, a + int64_t(n) * H * T * T, (*attention)[b].ptr() + i * H * T * T);
            }
    }
    return logits;
}

void softmax_rows(const float* logits, int rows, int cols, float* probs) {
    for (int r = 0; r < rows; ++r) {
        const float* in = logits + int64_t(r) * cols;
        float* out = probs + int64_t(r) * cols;
        const float m = *std::max_element(in, in + cols);
        double sum = 0;
        for (int j = 0; j < cols; ++j) sum += out[j] = std::exp(in[j] - m);
        for (int j = 0; j < cols; ++j) out[j] = static_cast<float>(out[j] / sum);
    }
}

}  // namespace vit
