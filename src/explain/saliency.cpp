// Saliency maps by every method of saliency.hpp, one batch at a time: the attention capture and the
// occlusion runner are built once, and a batch's capture and occlusion pass serve every spec.
#include "vit/explain/saliency.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "explain/attn_lrp.hpp"
#include "explain/chefer_lrp.hpp"
#include "vit/util/error.hpp"
#include "vit/util/logits.hpp"

namespace vit {

bool needs_class(SaliencyMethod method) {
    return method != SaliencyMethod::Rollout && method != SaliencyMethod::LastAttention;
}

namespace {
constexpr std::pair<SaliencyMethod, const char*> kMethodNames[] = {
    {SaliencyMethod::Rollout, "rollout"},
    {SaliencyMethod::GradRollout, "grad-rollout"},
    {SaliencyMethod::Chefer2021, "chefer2021"},
    {SaliencyMethod::Chefer2021Lrp, "chefer2021-lrp"},
    {SaliencyMethod::AttnLrp, "attnlrp"},
    {SaliencyMethod::LastAttention, "last-attention"},
    {SaliencyMethod::Occlusion, "occlusion"},
    {SaliencyMethod::GradRolloutOcclusion, "grad-rollout-x-occlusion"},
    {SaliencyMethod::Rise, "rise"}};
}  // namespace

const char* to_string(SaliencyMethod method) {
    for (const auto& [m, name] : kMethodNames)
        if (m == method) return name;
    return "?";
}

std::vector<std::string> saliency_method_names() {
    std::vector<std::string> names;
    for (const auto& entry : kMethodNames) names.emplace_back(entry.second);
    return names;
}

SaliencyMethod parse_saliency_method(const std::string& name) {
    std::string all;
    for (const auto& [m, n] : kMethodNames) {
        if (name == n) return m;
        all += std::string(all.empty() ? "" : ", ") + n;
    }
    throw ConfigError("unknown saliency method '" + name + "' (expected one of " + all + ")");
}

bool builds_per_block(SaliencyMethod method) {
    return method == SaliencyMethod::Rollout || method == SaliencyMethod::GradRollout ||
           method == SaliencyMethod::Chefer2021;
}

std::vector<Tensor> per_block_maps(const AttentionCapture& capture, const SaliencySpec& spec,
                                   const PrefixTokens& prefix) {
    if (!builds_per_block(spec.method))
        throw ConfigError(describe(spec) + " is not built block by block (rollout, grad-rollout and chefer2021 are)");
    std::vector<Tensor> maps;
    for (int l = 0; l < static_cast<int>(capture.attn.size()); ++l) {
        RolloutOptions o = spec.rollout;
        o.last_block = l;
        maps.push_back(spec.method == SaliencyMethod::Rollout ? attention_rollout(capture.attn, prefix, o)
                       : spec.method == SaliencyMethod::GradRollout
                           ? gradient_rollout(capture.attn, capture.grad, prefix, o)
                           : chefer_relevance(capture.attn, capture.grad, prefix, o));
    }
    return maps;
}

bool uses_gradients(SaliencyMethod method) {
    return method == SaliencyMethod::GradRollout || method == SaliencyMethod::Chefer2021 ||
           method == SaliencyMethod::Chefer2021Lrp || method == SaliencyMethod::AttnLrp ||
           method == SaliencyMethod::GradRolloutOcclusion;
}

namespace {

std::string ratio(float r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", double(r));
    return buf;
}

// Whether the method reads the shared attention capture (the LRP methods run their own networks).
bool uses_attention(SaliencyMethod m) {
    return m != SaliencyMethod::Occlusion && m != SaliencyMethod::Rise && m != SaliencyMethod::Chefer2021Lrp &&
           m != SaliencyMethod::AttnLrp;
}
bool uses_occlusion(SaliencyMethod m) {
    return m == SaliencyMethod::Occlusion || m == SaliencyMethod::GradRolloutOcclusion;
}

// p(c | x) minus p(c | x with patch j replaced by the baseline's pixels), for every patch j: how much
// the class's probability falls without that patch (negative where the patch spoke against c).
class Occlusion {
public:
    Occlusion(const Model& model, int batch, Dtype dtype)
        : c_(model.config()), runner_(model, batch, RunOptions{}.with_dtype(dtype)) {}

    Tensor map(const float* x, const float* blank, int n, const std::vector<int>& classes) {
        const int P = c_.num_patches(), K = c_.num_classes;
        const size_t floats = size_t(c_.in_chans) * c_.img_h * c_.img_w;
        const int B = runner_.batch();
        Tensor out({n, P});
        std::vector<float> probs(size_t(B) * K), occluded(size_t(B) * floats);
        // The intact images first, then every (image, patch) pair, B at a time.
        std::vector<double> p0(static_cast<size_t>(n));
        for (int s = 0; s < n; s += B) {
            const int m = std::min(B, n - s);
            softmax_rows(runner_.forward(x + size_t(s) * floats, m), m, K, probs.data());
            for (int i = 0; i < m; ++i) p0[size_t(s + i)] = probs[size_t(i) * K + classes[size_t(s + i)]];
        }
        const int64_t pairs = int64_t(n) * P;
        for (int64_t s = 0; s < pairs; s += B) {
            const int m = static_cast<int>(std::min<int64_t>(B, pairs - s));
            for (int k = 0; k < m; ++k) {
                const int64_t i = (s + k) / P, j = (s + k) % P;
                float* dst = occluded.data() + size_t(k) * floats;
                std::memcpy(dst, x + size_t(i) * floats, floats * sizeof(float));
                copy_patch(c_, static_cast<int>(j), blank + size_t(i) * floats, dst);
            }
            softmax_rows(runner_.forward(occluded.data(), m), m, K, probs.data());
            for (int k = 0; k < m; ++k) {
                const int64_t i = (s + k) / P;
                out.data[size_t(s + k)] =
                    static_cast<float>(p0[size_t(i)] - probs[size_t(k) * K + classes[size_t(i)]]);
            }
        }
        return out;
    }

private:
    const ViTConfig& c_;
    Runner runner_;
};

// RISE's masks, made once from the seed: each one's pixels are needed per forward pass (to blend the
// image with the baseline), its mean over every patch once per image (to weigh the probability).
class Rise {
public:
    Rise(const Model& model, int batch, const RiseOptions& o, Dtype dtype)
        : c_(model.config()), o_(o), runner_(model, batch, RunOptions{}.with_dtype(dtype)), masks_(rise_masks(c_, o)) {
        const int W = c_.img_w, P = c_.num_patches(), gw = c_.grid_w(), ps = c_.patch_size;
        const size_t plane = size_t(c_.img_h) * W;
        patch_means_.resize(size_t(o.samples) * P);
        for (int k = 0; k < o.samples; ++k) {
            const float* m = masks_.ptr() + size_t(k) * plane;
            for (int j = 0; j < P; ++j) {
                double sum = 0;
                for (int y = j / gw * ps; y < j / gw * ps + ps; ++y)
                    for (int x = j % gw * ps; x < j % gw * ps + ps; ++x) sum += m[size_t(y) * W + x];
                patch_means_[size_t(k) * P + j] = static_cast<float>(sum / (ps * ps));
            }
        }
    }

    Tensor map(const float* x, const float* blank, int n, const std::vector<int>& classes) {
        const int P = c_.num_patches(), K = c_.num_classes, S = o_.samples, B = runner_.batch();
        const size_t plane = size_t(c_.img_h) * c_.img_w, floats = plane * c_.in_chans;
        Tensor out({n, P});
        std::vector<float> probs(size_t(B) * K), masked(size_t(B) * floats);
        const int64_t pairs = int64_t(n) * S;
        for (int64_t s = 0; s < pairs; s += B) {
            const int m = static_cast<int>(std::min<int64_t>(B, pairs - s));
            for (int q = 0; q < m; ++q) {
                const int64_t i = (s + q) / S, k = (s + q) % S;
                const float* mask = masks_.ptr() + size_t(k) * plane;
                for (int ch = 0; ch < c_.in_chans; ++ch) {
                    const size_t off = size_t(i) * floats + size_t(ch) * plane;
                    float* dst = masked.data() + size_t(q) * floats + size_t(ch) * plane;
                    for (size_t p = 0; p < plane; ++p) dst[p] = blank[off + p] + mask[p] * (x[off + p] - blank[off + p]);
                }
            }
            softmax_rows(runner_.forward(masked.data(), m), m, K, probs.data());
            for (int q = 0; q < m; ++q) {
                const int64_t i = (s + q) / S, k = (s + q) % S;
                const float w = probs[size_t(q) * K + classes[size_t(i)]] / (float(S) * o_.keep);
                const float* mean = patch_means_.data() + size_t(k) * P;
                for (int j = 0; j < P; ++j) out.data[size_t(i * P + j)] += w * mean[j];
            }
        }
        return out;
    }

private:
    const ViTConfig& c_;
    const RiseOptions o_;
    Runner runner_;
    const Tensor masks_;              // (samples, H, W)
    std::vector<float> patch_means_;  // (samples, P)
};

}  // namespace

Tensor rise_masks(const ViTConfig& c, const RiseOptions& o) {
    if (o.samples < 1) throw ConfigError("RISE: samples must be >= 1, got " + std::to_string(o.samples));
    if (!(o.keep > 0.0f && o.keep < 1.0f)) throw ConfigError("RISE: keep probability must be in (0, 1)");
    const int cells = o.cells > 0 ? o.cells : (std::max(c.grid_h(), c.grid_w()) + 1) / 2;
    const int H = c.img_h, W = c.img_w;
    // The cell is ceil(size / cells) pixels; the grid has one cell more than needed so that any shift
    // in [0, cell) still covers the image.
    const int cell_h = (H + cells - 1) / cells, cell_w = (W + cells - 1) / cells;
    std::mt19937_64 rng(o.seed);
    std::bernoulli_distribution keep(o.keep);
    Tensor masks({o.samples, H, W});
    for (int k = 0; k < o.samples; ++k) {
        cv::Mat grid(cells + 1, cells + 1, CV_32F);
        for (int r = 0; r <= cells; ++r)
            for (int q = 0; q <= cells; ++q) grid.at<float>(r, q) = keep(rng) ? 1.0f : 0.0f;
        cv::Mat up;
        cv::resize(grid, up, cv::Size((cells + 1) * cell_w, (cells + 1) * cell_h), 0, 0, cv::INTER_LINEAR);
        const int oy = std::uniform_int_distribution<int>(0, cell_h - 1)(rng);
        const int ox = std::uniform_int_distribution<int>(0, cell_w - 1)(rng);
        float* m = masks.ptr() + size_t(k) * H * W;
        for (int y = 0; y < H; ++y) std::memcpy(m + size_t(y) * W, up.ptr<float>(y + oy) + ox, size_t(W) * sizeof(float));
    }
    return masks;
}

std::string describe(const SaliencySpec& spec) {
    const RolloutOptions& r = spec.rollout;
    switch (spec.method) {
        case SaliencyMethod::Rollout:
            return std::string("rollout ") + to_string(r.fusion) + " d" + ratio(r.discard_ratio);
        case SaliencyMethod::GradRollout: return "gradient rollout d" + ratio(r.discard_ratio);
        case SaliencyMethod::Chefer2021: return "chefer2021";
        case SaliencyMethod::Chefer2021Lrp: return "chefer2021-lrp";
        case SaliencyMethod::AttnLrp: return "attnlrp";
        case SaliencyMethod::LastAttention:
            return spec.head < 0 ? "last-block attention" : "last-block attention, head " + std::to_string(spec.head);
        case SaliencyMethod::Occlusion: return "occlusion";
        case SaliencyMethod::GradRolloutOcclusion: return "grad rollout d" + ratio(r.discard_ratio) + " x occlusion";
        case SaliencyMethod::Rise: return "rise " + std::to_string(spec.rise.samples);
    }
    return "?";
}

Tensor minmax_rows(const Tensor& maps) {
    if (maps.ndim() != 2) throw ShapeError("minmax_rows: expected (N, P) maps, got " + shape_str(maps.shape));
    Tensor out = maps;
    const int64_t N = maps.shape[0], P = maps.shape[1];
    for (int64_t n = 0; n < N; ++n) {
        float* row = out.ptr() + n * P;
        const auto [lo, hi] = std::minmax_element(row, row + P);
        const float min = *lo, range = *hi - *lo;
        for (int64_t j = 0; j < P; ++j) row[j] = range > 0 ? (row[j] - min) / range : 0.0f;
    }
    return out;
}

struct SaliencyMaps::Impl {
    const Model& model;
    std::vector<SaliencySpec> specs;
    Baseline baseline;
    PrefixTokens prefix;
    bool gradients;  // whether the capture includes attention gradients (of `classes`)
    std::unique_ptr<AttentionCapturer> capturer;
    std::unique_ptr<CheferLrp> chefer_lrp;
    std::unique_ptr<AttnLrp> attn_lrp;
    std::unique_ptr<Occlusion> occlusion;
    std::vector<std::unique_ptr<Rise>> rise;  // one per spec (empty for the others)
    AttentionCapture capture;
    std::vector<float> blank;  // the batch's baseline images
};

SaliencyMaps::SaliencyMaps(const Model& model, int batch, std::vector<SaliencySpec> specs, Baseline baseline,
                           Dtype dtype)
    : impl_(std::make_unique<Impl>(Impl{model, std::move(specs), baseline, prefix_tokens(model.config()), false,
                                        nullptr, nullptr, nullptr, nullptr, {}, {}, {}})) {
    if (batch < 1) throw ConfigError("saliency maps: batch must be >= 1, got " + std::to_string(batch));
    bool attention = false, gradients = false, occlusion = false;
    for (const SaliencySpec& s : impl_->specs) {
        if (s.method == SaliencyMethod::LastAttention && (s.head < -1 || s.head >= model.config().num_heads))
            throw ConfigError("head " + std::to_string(s.head) + " out of range: the model has " +
                              std::to_string(model.config().num_heads) + " heads");
        if (needs_class(s.method) && model.config().num_classes <= 0)
            throw ConfigError(describe(s) + " explains a class, and this model has no classifier (num_classes 0)");
        attention |= uses_attention(s.method);
        gradients |= uses_attention(s.method) && uses_gradients(s.method);
        occlusion |= uses_occlusion(s.method);
    }
    impl_->gradients = gradients;
    if (attention) impl_->capturer = std::make_unique<AttentionCapturer>(model, batch, gradients, dtype);
    if (occlusion) impl_->occlusion = std::make_unique<Occlusion>(model, batch, dtype);
    for (const SaliencySpec& s : impl_->specs) {
        if (uses_gradients(s.method) && dtype != Dtype::F32)
            throw ConfigError(describe(s) + " needs a backward pass, which runs in f32 only, not " + to_string(dtype));
        if (s.method == SaliencyMethod::Chefer2021Lrp && !impl_->chefer_lrp)
            impl_->chefer_lrp = std::make_unique<CheferLrp>(model, batch);
        if (s.method == SaliencyMethod::AttnLrp && !impl_->attn_lrp)
            impl_->attn_lrp = std::make_unique<AttnLrp>(model, batch);
    }
    bool needs_baseline = occlusion;
    for (const SaliencySpec& s : impl_->specs) {
        impl_->rise.push_back(s.method == SaliencyMethod::Rise ? std::make_unique<Rise>(model, batch, s.rise, dtype) : nullptr);
        needs_baseline |= s.method == SaliencyMethod::Rise;
    }
    const ViTConfig& c = model.config();
    if (needs_baseline) impl_->blank.resize(size_t(batch) * c.in_chans * c.img_h * c.img_w);
}

SaliencyMaps::~SaliencyMaps() = default;

const AttentionCapture& SaliencyMaps::capture() const { return impl_->capture; }

std::vector<Tensor> SaliencyMaps::compute(const float* x, int n, const std::vector<int>& classes) {
    Impl& m = *impl_;
    const bool any_class = std::any_of(m.specs.begin(), m.specs.end(), [](const SaliencySpec& s) { return needs_class(s.method); });
    if (any_class && static_cast<int>(classes.size()) != n)
        throw ConfigError("saliency maps: " + std::to_string(classes.size()) + " classes for " + std::to_string(n) +
                          " images");
    if (m.capturer) m.capture = m.capturer->run(x, n, m.gradients ? classes : std::vector<int>());
    if (!m.blank.empty()) baseline_images(m.model.config(), m.baseline, x, n, m.blank.data());
    Tensor occluded;
    if (m.occlusion) occluded = m.occlusion->map(x, m.blank.data(), n, classes);
    std::vector<Tensor> maps;
    for (size_t k = 0; k < m.specs.size(); ++k) {
        const SaliencySpec& s = m.specs[k];
        const AttentionCapture& cap = m.capture;
        switch (s.method) {
            case SaliencyMethod::Rollout: maps.push_back(attention_rollout(cap.attn, m.prefix, s.rollout)); break;
            case SaliencyMethod::GradRollout:
                maps.push_back(gradient_rollout(cap.attn, cap.grad, m.prefix, s.rollout));
                break;
            case SaliencyMethod::Chefer2021: maps.push_back(chefer_relevance(cap.attn, cap.grad, m.prefix, s.rollout)); break;
            case SaliencyMethod::Chefer2021Lrp: {
                // The same roll-out as Chefer2021, with the attention's LRP relevance in place of A.
                std::vector<Tensor> relevance, grad;
                m.chefer_lrp->run(x, n, classes, relevance, grad);
                maps.push_back(chefer_relevance(relevance, grad, m.prefix, s.rollout));
                break;
            }
            case SaliencyMethod::AttnLrp: maps.push_back(m.attn_lrp->map(x, n, classes)); break;
            case SaliencyMethod::LastAttention: maps.push_back(last_block_attention(cap.attn, m.prefix, s.head)); break;
            case SaliencyMethod::Occlusion: maps.push_back(occluded); break;
            case SaliencyMethod::Rise: maps.push_back(m.rise[k]->map(x, m.blank.data(), n, classes)); break;
            case SaliencyMethod::GradRolloutOcclusion: {
                Tensor product = minmax_rows(gradient_rollout(cap.attn, cap.grad, m.prefix, s.rollout));
                const Tensor occ = minmax_rows(occluded);
                for (size_t i = 0; i < product.data.size(); ++i) product.data[i] *= occ.data[i];
                maps.push_back(std::move(product));
                break;
            }
        }
    }
    return maps;
}

}  // namespace vit
