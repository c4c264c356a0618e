// Attention rollout and gradient rollout (see include/vit/explain/attention_maps.hpp for the definitions).
//
// Sums and products are kept in double, so the maps are as exact as the float attention they come from.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "vit/util/error.hpp"
#include "vit/explain/attention_maps.hpp"

namespace vit {

HeadFusion parse_head_fusion(const std::string& s) {
    if (s == "mean") return HeadFusion::Mean;
    if (s == "max") return HeadFusion::Max;
    if (s == "min") return HeadFusion::Min;
    throw ConfigError("unknown head fusion '" + s + "' (expected mean, max or min)");
}

const char* to_string(HeadFusion f) {
    switch (f) {
        case HeadFusion::Mean: return "mean";
        case HeadFusion::Max: return "max";
        case HeadFusion::Min: return "min";
    }
    return "?";
}

namespace {

struct Dims {
    int64_t N, H, T;
    int first, last;
};

Dims check_inputs(const std::vector<Tensor>& attn, const std::vector<Tensor>* grad, const PrefixTokens& pt,
                  const RolloutOptions& opts) {
    if (attn.empty()) throw ShapeError("rollout needs the attention of at least one block, got none");
    const int prefix = pt.count;
    if (prefix < 0 || (pt.class_token && prefix < 1))
        throw ConfigError("invalid prefix tokens: " + std::to_string(prefix) +
                          (pt.class_token ? " with a class token" : " without a class token"));
    if (!(opts.discard_ratio >= 0.0f && opts.discard_ratio < 1.0f))
        throw ConfigError("discard ratio must be in [0, 1), got " + std::to_string(opts.discard_ratio));
    const Shape& s = attn[0].shape;
    if (s.size() != 4 || s[2] != s[3] || s[2] <= prefix)
        throw ShapeError("attention of block 0 has shape " + shape_str(s) + ", expected [N, heads, T, T]");
    for (size_t b = 0; b < attn.size(); ++b)
        if (attn[b].shape != s)
            throw ShapeError("attention of block " + std::to_string(b) + " has shape " + shape_str(attn[b].shape) +
                             ", block 0 has " + shape_str(s));
    if (grad) {
        if (grad->size() != attn.size())
            throw ShapeError("gradient rollout: " + std::to_string(grad->size()) + " attention gradients for " +
                             std::to_string(attn.size()) + " blocks");
        for (size_t b = 0; b < grad->size(); ++b)
            if ((*grad)[b].shape != s)
                throw ShapeError("attention gradient of block " + std::to_string(b) + " has shape " +
                                 shape_str((*grad)[b].shape) + ", expected " + shape_str(s));
    }
    const int depth = static_cast<int>(attn.size());
    const int last = opts.last_block < 0 ? depth - 1 : opts.last_block;
    if (opts.first_block < 0 || last >= depth || opts.first_block > last)
        throw ConfigError("rollout blocks " + std::to_string(opts.first_block) + ".." + std::to_string(last) +
                          " are not a range within the model's " + std::to_string(depth) + " blocks");
    return Dims{s[0], s[1], s[2], opts.first_block, last};
}

// Number of entries the discard zeroes: floor(T*T*r). r arrives as a float, so 0.9 is 0.89999998 and
// T*T*r can fall just below an integer the decimal ratio reaches exactly (100 * 0.9 would give 89);
// nudging by a relative 1e-6, far above float rounding and far below the spacing of a few-digit
// decimal, recovers the intended count.
int64_t discard_count(int64_t entries, float ratio) {
    const auto k = static_cast<int64_t>(std::floor(double(entries) * double(ratio) * (1.0 + 1e-6)));
    return std::min(k, entries);
}

// Zeroes the `count` smallest entries of f (T*T values), except flat index 0 (class token to itself):
// the reference picks the k smallest including index 0 and then skips it, so when index 0 is among
// them only count-1 entries are zeroed. Ties are broken by index, which keeps the choice deterministic.
void discard_lowest(std::vector<double>& f, int64_t count, std::vector<int64_t>& order) {
    if (count <= 0) return;
    order.resize(f.size());
    std::iota(order.begin(), order.end(), int64_t{0});
    auto less = [&](int64_t a, int64_t b) { return f[size_t(a)] < f[size_t(b)] || (f[size_t(a)] == f[size_t(b)] && a < b); };
    std::nth_element(order.begin(), order.begin() + (count - 1), order.end(), less);
    for (int64_t i = 0; i < count; ++i)
        if (order[size_t(i)] != 0) f[size_t(order[size_t(i)])] = 0.0;
}

// v <- v A with A = (F + I) / 2, every row divided by its sum.
void apply_block(const std::vector<double>& f, int64_t T, std::vector<double>& v, std::vector<double>& tmp) {
    tmp.assign(size_t(T), 0.0);
    for (int64_t i = 0; i < T; ++i) {
        if (v[size_t(i)] == 0.0) continue;
        const double* row = f.data() + i * T;
        double sum = 1.0;  // the identity; the halving cancels in the division by the row sum
        for (int64_t j = 0; j < T; ++j) sum += row[j];
        // F >= 0 (probabilities, or clamped gradient products), so sum >= 1.
        const double w = v[size_t(i)] / sum;
        for (int64_t j = 0; j < T; ++j) tmp[size_t(j)] += w * row[j];
        tmp[size_t(i)] += w;
    }
    v.swap(tmp);
}

// v <- v (I + F): Chefer et al.'s R <- R + F R, seen from the one row that is wanted.
void apply_additive(const std::vector<double>& f, int64_t T, std::vector<double>& v, std::vector<double>& tmp) {
    tmp = v;
    for (int64_t i = 0; i < T; ++i) {
        if (v[size_t(i)] == 0.0) continue;
        const double* row = f.data() + i * T;
        for (int64_t j = 0; j < T; ++j) tmp[size_t(j)] += v[size_t(i)] * row[j];
    }
    v.swap(tmp);
}

// How one block's fused matrix acts on the row: rollout's normalised (F + I) / 2, or Chefer's I + F.
enum class Combine { Normalised, Additive };

// fuse(n, b, f) fills f (T*T) with block b's fused matrix for image n.
//
// Only one row of R = A_last ... A_first is wanted (the class token's), or the mean of its rows, so
// instead of the matrix product the row vector e_0 (or the uniform vector 1/T) is pushed through the
// blocks from the last to the first: v A_last ... A_first. That is T^2 work per block instead of T^3.
template <typename Fuse>
Tensor rollout(const Dims& d, const PrefixTokens& pt, float discard_ratio, Fuse fuse,
               Combine combine = Combine::Normalised) {
    const int64_t T = d.T, prefix = pt.count, P = T - prefix;
    Tensor out({d.N, P});
    const int64_t count = discard_count(T * T, discard_ratio);
#pragma omp parallel for schedule(dynamic)
    for (int64_t n = 0; n < d.N; ++n) {
        std::vector<double> f(size_t(T * T)), v(size_t(T), pt.class_token ? 0.0 : 1.0 / double(T)), tmp;
        if (pt.class_token) v[0] = 1.0;
        std::vector<int64_t> order;
        for (int b = d.last; b >= d.first; --b) {
            fuse(n, b, f);
            discard_lowest(f, count, order);
            if (combine == Combine::Normalised) apply_block(f, T, v, tmp);
            else apply_additive(f, T, v, tmp);
        }
        for (int64_t j = 0; j < P; ++j) out.data[size_t(n * P + j)] = static_cast<float>(v[size_t(j + prefix)]);
    }
    return out;
}

}  // namespace

PrefixTokens prefix_tokens(const ViTConfig& cfg) { return PrefixTokens{cfg.num_prefix(), cfg.class_token}; }

Tensor attention_rollout(const std::vector<Tensor>& attn, const PrefixTokens& prefix, const RolloutOptions& opts) {
    const Dims d = check_inputs(attn, nullptr, prefix, opts);
    const int64_t TT = d.T * d.T;
    return rollout(d, prefix, opts.discard_ratio, [&](int64_t n, int b, std::vector<double>& f) {
        const float* a = attn[size_t(b)].ptr() + n * d.H * TT;
        for (int64_t i = 0; i < TT; ++i) {
            double v = a[i];
            for (int64_t h = 1; h < d.H; ++h) {
                const double x = a[h * TT + i];
                if (opts.fusion == HeadFusion::Max) v = std::max(v, x);
                else if (opts.fusion == HeadFusion::Min) v = std::min(v, x);
                else v += x;
            }
            f[size_t(i)] = opts.fusion == HeadFusion::Mean ? v / double(d.H) : v;
        }
    });
}

namespace {

// Fills f with mean over heads of max(0, A ⊙ dA) for image n, block b: the attention that raises the
// logit, attention times its gradient clamped at 0.
void positive_grad_attention(const Dims& d, const std::vector<Tensor>& attn, const std::vector<Tensor>& grad,
                             int64_t n, int b, std::vector<double>& f) {
    const int64_t TT = d.T * d.T;
    const float* a = attn[size_t(b)].ptr() + n * d.H * TT;
    const float* g = grad[size_t(b)].ptr() + n * d.H * TT;
    for (int64_t i = 0; i < TT; ++i) {
        double v = 0.0;
        for (int64_t h = 0; h < d.H; ++h) v += std::max(0.0, double(a[h * TT + i]) * double(g[h * TT + i]));
        f[size_t(i)] = v / double(d.H);
    }
}

}  // namespace

Tensor gradient_rollout(const std::vector<Tensor>& attn, const std::vector<Tensor>& grad, const PrefixTokens& prefix,
                        const RolloutOptions& opts) {
    const Dims d = check_inputs(attn, &grad, prefix, opts);
    return rollout(d, prefix, opts.discard_ratio, [&](int64_t n, int b, std::vector<double>& f) {
        positive_grad_attention(d, attn, grad, n, b, f);
    });
}

Tensor chefer_relevance(const std::vector<Tensor>& attn, const std::vector<Tensor>& grad, const PrefixTokens& prefix,
                        const RolloutOptions& opts) {
    RolloutOptions range;
    range.first_block = opts.first_block;
    range.last_block = opts.last_block;
    const Dims d = check_inputs(attn, &grad, prefix, range);
    return rollout(
        d, prefix, 0.0f, [&](int64_t n, int b, std::vector<double>& f) { positive_grad_attention(d, attn, grad, n, b, f); },
        Combine::Additive);
}

Tensor last_block_attention(const std::vector<Tensor>& attn, const PrefixTokens& prefix, int head) {
    const Dims d = check_inputs(attn, nullptr, prefix, RolloutOptions{});
    if (head < -1 || head >= d.H)
        throw ConfigError("head " + std::to_string(head) + " out of range [0, " + std::to_string(d.H) + ")");
    const int64_t T = d.T, TT = T * T, P = T - prefix.count;
    Tensor out({d.N, P});
    const Tensor& last = attn.back();
    for (int64_t n = 0; n < d.N; ++n)
        for (int64_t j = 0; j < P; ++j) {
            // The class token's row, or without one the mean of every token's row.
            const int64_t rows = prefix.class_token ? 1 : T;
            double sum = 0;
            int heads = 0;
            for (int64_t h = head < 0 ? 0 : head; h < (head < 0 ? d.H : head + 1); ++h, ++heads)
                for (int64_t r = 0; r < rows; ++r) sum += last.ptr()[(n * d.H + h) * TT + r * T + prefix.count + j];
            out.data[size_t(n * P + j)] = static_cast<float>(sum / double(heads * rows));
        }
    return out;
}

}  // namespace vit
