#include "explain/chefer_lrp.hpp"

#include <algorithm>
#include <cmath>

#include "vit/util/error.hpp"
#include "vit/util/logits.hpp"

namespace vit {

namespace {

// Transformer-Explainability's safe_divide: a / (b + 1e-9), and 0 where b is 0.
inline float safe_div(float a, float b) {
    if (b == 0.0f) return 0.0f;
    const float den = b + 1e-9f;
    return a / (den == 0.0f ? 1e-9f : den);
}
inline double safe_div(double a, double b) { return b == 0.0 ? 0.0 : a / (b + 1e-9); }

NetworkOptions with_gradients() {
    NetworkOptions opts;
    opts.training = true;  // keeps every activation the relevance pass reads
    opts.keep_attention_grad = true;
    return opts;
}

const ViTConfig& checked(const ViTConfig& c) {
    if (c.num_classes <= 0)
        throw ConfigError("chefer2021-lrp explains a class, and this model has no classifier (num_classes 0)");
    return c;
}

}  // namespace

AlphaBetaLinear::AlphaBetaLinear(int64_t rows, int64_t in, int64_t out)
    : rows_(rows),
      in_(in),
      out_(out),
      // Z = X2 · W2ᵀ: W2 (out, 2 in) row-major read as (2 in, out) through strides (1, 2 in).
      z_({{rows, 2 * in}, {}}, {{2 * in, out}, {1, 2 * in}}, {{rows, out}, {}}, false),
      c_({{rows, out}, {}}, {{out, 2 * in}, {}}, {{rows, 2 * in}, {}}, false),
      x2_(size_t(rows * 2 * in)),
      z_buf_(size_t(rows * out)),
      c_buf_(size_t(rows * 2 * in)) {}

std::vector<float> AlphaBetaLinear::split(const float* w) const {
    std::vector<float> w2(size_t(out_ * 2 * in_));
    for (int64_t o = 0; o < out_; ++o)
        for (int64_t i = 0; i < in_; ++i) {
            const float v = w[o * in_ + i];
            w2[size_t(o * 2 * in_ + i)] = std::max(v, 0.0f);
            w2[size_t(o * 2 * in_ + in_ + i)] = std::min(v, 0.0f);
        }
    return w2;
}

void AlphaBetaLinear::relprop(const float* x, const std::vector<float>& split_w, const float* r_out, float* r_in) {
    const int64_t in = in_, out = out_;
#pragma omp parallel for
    for (int64_t r = 0; r < rows_; ++r)
        for (int64_t i = 0; i < in; ++i) {
            const float v = x[r * in + i];
            x2_[size_t(r * 2 * in + i)] = std::max(v, 0.0f);
            x2_[size_t(r * 2 * in + in + i)] = std::min(v, 0.0f);
        }
    // Z = x⁺ W⁺ᵀ + x⁻ W⁻ᵀ (the positive contributions); S = R / Z; C = S [W⁺ W⁻].
    z_.run(x2_.data(), split_w.data(), nullptr, z_buf_.data());
#pragma omp parallel for
    for (int64_t e = 0; e < rows_ * out; ++e) z_buf_[size_t(e)] = safe_div(r_out[e], z_buf_[size_t(e)]);
    c_.run(z_buf_.data(), split_w.data(), nullptr, c_buf_.data());
#pragma omp parallel for
    for (int64_t r = 0; r < rows_; ++r)
        for (int64_t i = 0; i < in; ++i) {
            const size_t at = size_t(r * 2 * in + i);
            r_in[r * in + i] = x2_[at] * c_buf_[at] + x2_[at + size_t(in)] * c_buf_[at + size_t(in)];
        }
}

CheferLrp::CheferLrp(const Model& model, int batch)
    : model_(model), net_(checked(model.config()), batch, with_gradients()), grads_(model.config()) {
    const ViTConfig& c = model.config();
    const int64_t B = batch, M = B * c.num_tokens(), D = c.embed_dim, Hm = c.mlp_hidden(), K = c.num_classes;
    const int64_t F = c.num_features();
    dlogits_.resize(size_t(B * K));
    qkv_ = AlphaBetaLinear(M, D, 3 * D);
    proj_ = AlphaBetaLinear(M, D, D);
    fc1_ = AlphaBetaLinear(M, D, Hm);
    fc2_ = AlphaBetaLinear(M, Hm, D);
    head_ = AlphaBetaLinear(B, F, K);
    const Parameters& p = model.params();
    const ParamSlots& s = p.slots();
    for (const BlockParams& o : s.blocks)
        blocks_.push_back({qkv_.split(p.data() + o.qkv_w), proj_.split(p.data() + o.proj_w),
                           fc1_.split(p.data() + o.fc1_w), fc2_.split(p.data() + o.fc2_w)});
    head_w_ = head_.split(p.data() + s.head_w);
    if (c.global_pool == GlobalPool::Map) {  // the pool's Linears; pool_w_.qkv holds kv's weight
        pool_kv_ = AlphaBetaLinear(M, D, 2 * D);
        pool_proj_ = AlphaBetaLinear(B, D, D);
        pool_fc1_ = AlphaBetaLinear(B, D, Hm);
        pool_fc2_ = AlphaBetaLinear(B, Hm, D);
        pool_w_ = {pool_kv_.split(p.data() + s.pool.kv_w), pool_proj_.split(p.data() + s.pool.proj_w),
                   pool_fc1_.split(p.data() + s.pool.fc1_w), pool_fc2_.split(p.data() + s.pool.fc2_w)};
        r_pool_h_.resize(size_t(B * Hm));
        r_pool_a_.resize(size_t(B * D));
        r_pool_b_.resize(size_t(B * D));
        r_pool_kv_.resize(size_t(M * 2 * D));
    }
    if (c.distilled) {
        head_dist_ = AlphaBetaLinear(B, D, K);
        head_dist_w_ = head_dist_.split(p.data() + s.head_dist_w);
    }
    for (auto* v : {&r_, &r_a_, &r_b_, &r_ctx_}) v->resize(size_t(M * D));
    r_qkv_.resize(size_t(M * 3 * D));
    r_h_.resize(size_t(M * Hm));
    r_pooled_.resize(size_t(2 * B * F));
    r_logits_.resize(size_t(2 * B * K));
    half_logits_.resize(size_t(B * K));
}

void CheferLrp::add_relprop(const float* a, const float* z, const float* r, float* r_a, float* r_b, int64_t images,
                            int64_t size) {
#pragma omp parallel for
    for (int64_t b = 0; b < images; ++b) {
        double sum_a = 0, sum_b = 0, sum_r = 0;
        for (int64_t e = b * size; e < (b + 1) * size; ++e) {
            const float s = safe_div(r[e], z[e]);
            r_a[e] = a[e] * s;
            r_b[e] = (z[e] - a[e]) * s;
            sum_a += r_a[e];
            sum_b += r_b[e];
            sum_r += r[e];
        }
        // Each operand keeps its share of |Σ R| in proportion to the size of its own sum.
        const double share = std::abs(sum_a) + std::abs(sum_b);
        const float scale_a = static_cast<float>(safe_div(safe_div(std::abs(sum_a), share) * sum_r, sum_a));
        const float scale_b = static_cast<float>(safe_div(safe_div(std::abs(sum_b), share) * sum_r, sum_b));
        for (int64_t e = b * size; e < (b + 1) * size; ++e) {
            r_a[e] *= scale_a;
            r_b[e] *= scale_b;
        }
    }
}

void CheferLrp::pool_relprop(const float* r_pooled) {
    const SavedActivations S = net_.saved();
    const ViTConfig& c = model_.config();
    const int64_t B = S.B, T = S.T, D = S.D, F = S.F, pre = S.prefix, P = c.num_patches();
    std::fill(r_.begin(), r_.end(), 0.0f);
    // The final norm (before or after pooling) passes relevance unchanged.
    if (c.global_pool == GlobalPool::Token) {  // the class (and distillation) token rows, back to their tokens
        for (int64_t r = 0; r < S.R; ++r)
            for (int64_t b = 0; b < B; ++b) std::copy_n(r_pooled + (r * B + b) * D, D, r_.data() + (b * T + r) * D);
        return;
    }
    if (c.global_pool == GlobalPool::Map) {
        attention_pool_relprop(r_pooled);
        return;
    }
    // The mean over the patch tokens of src (the final stream, or its norm): token t gets
    // src_t ⊙ (R / mean) / P. TokenAvg's class half is a copy of the class token's row.
    const float* src = c.fc_norm ? S.residual(2 * c.depth) : S.final_norm;
    for (int64_t b = 0; b < B; ++b) {
        const float* rrow = r_pooled + b * F;
        if (c.global_pool == GlobalPool::TokenAvg) std::copy_n(rrow, D, r_.data() + b * T * D);
        const float* r_avg = rrow + F - D;
        for (int64_t d = 0; d < D; ++d) {
            double sum = 0;
            for (int64_t t = pre; t < T; ++t) sum += src[(b * T + t) * D + d];
            const float s = safe_div(r_avg[d], static_cast<float>(sum / double(P))) / static_cast<float>(P);
            for (int64_t t = pre; t < T; ++t) r_[size_t((b * T + t) * D + d)] = src[(b * T + t) * D + d] * s;
        }
    }
}

void CheferLrp::attention_pool_relprop(const float* r_pooled) {
    const SavedActivations S = net_.saved();
    const ViTConfig& c = model_.config();
    const int64_t B = S.B, T = S.T, D = S.D, H = S.H, hd = D / H, pre = S.prefix, NP = T - pre, D2 = 2 * D;
    const layers::AttentionPool::Activations a = S.pool;
    // The pool reads the final-normed tokens (fc_norm would come after it; timm's map models have none).
    const float* src = c.fc_norm ? S.residual(2 * c.depth) : S.final_norm;
    const float* y = c.fc_norm ? S.pooled : S.pooled_norm;
    // y = y0 + fc2(GELU(fc1(norm(y0)))): the add rule, then alpha-beta through fc2 and fc1 (GELU and
    // the norm pass relevance on); the fork at y0 adds up.
    add_relprop(a.y0, y, r_pooled, r_pool_a_.data(), r_pool_b_.data(), B, D);
    pool_fc2_.relprop(a.h, pool_w_.fc2, r_pool_b_.data(), r_pool_h_.data());
    pool_fc1_.relprop(a.ln, pool_w_.fc1, r_pool_h_.data(), r_pool_b_.data());
    for (int64_t e = 0; e < B * D; ++e) r_pool_a_[size_t(e)] += r_pool_b_[size_t(e)];
    pool_proj_.relprop(a.o, pool_w_.proj, r_pool_a_.data(), r_pool_b_.data());  // now R at o
    // o = A V per head, as in the blocks; then the scores q·k (unscaled, Z = q·k): R_K = K ⊙ (R_A / Z) q
    // / 2, the query's half dropped with the parameter it belongs to.
    std::fill(r_pool_kv_.begin(), r_pool_kv_.end(), 0.0f);
#pragma omp parallel for
    for (int64_t bh = 0; bh < B * H; ++bh) {
        const int64_t b = bh / H, h = bh % H;
        const float* A = a.att + bh * NP;
        const float* q = a.q + h * hd;
        const float* r_o = r_pool_b_.data() + b * D + h * hd;
        const float* o = a.o + b * D + h * hd;
        for (int64_t n = 0; n < NP; ++n) {
            const int64_t row = (b * T + pre + n) * D2;
            const float *k = a.kv + row + h * hd, *v = a.kv + row + D + h * hd;
            float t = 0, z = 0;
            for (int64_t e = 0; e < hd; ++e) {
                const float s = safe_div(r_o[e], o[e]);
                t += s * v[e];
                r_pool_kv_[size_t(row + D + h * hd + e)] = 0.5f * v[e] * A[n] * s;
                z += q[e] * k[e];
            }
            const float r_a = 0.5f * A[n] * t, s3 = safe_div(r_a, z);
            for (int64_t e = 0; e < hd; ++e) r_pool_kv_[size_t(row + h * hd + e)] = 0.5f * k[e] * s3 * q[e];
        }
    }
    pool_kv_.relprop(src, pool_w_.qkv, r_pool_kv_.data(), r_.data());  // the final norm passes it on
}

void CheferLrp::attention_relprop(int block, const float* r_ctx, int n, Tensor& relevance) {
    const SavedActivations S = net_.saved();
    const int64_t B = S.B, T = S.T, D = S.D, H = S.H, hd = D / H, TT = T * T;
    const float* qkv = S.qkv(block);
    const float* ctx = S.ctx(block);
    const float* att = S.attention(block);
    float* r_qkv = r_qkv_.data();
#pragma omp parallel for
    for (int64_t bh = 0; bh < B * H; ++bh) {
        const int64_t b = bh / H, h = bh % H;
        auto q = [&](int64_t i, int64_t e) { return qkv[(b * T + i) * 3 * D + h * hd + e]; };
        auto k = [&](int64_t i, int64_t e) { return qkv[(b * T + i) * 3 * D + D + h * hd + e]; };
        auto v = [&](int64_t i, int64_t e) { return qkv[(b * T + i) * 3 * D + 2 * D + h * hd + e]; };
        const float* A = att + bh * TT;
        std::vector<float> S(static_cast<size_t>(T * hd)), RA(static_cast<size_t>(TT)), S3(static_cast<size_t>(TT));
        // ctx = A V: S = R_ctx / ctx; R_A = A ⊙ (S Vᵀ) / 2, R_V = V ⊙ (Aᵀ S) / 2.
        for (int64_t i = 0; i < T; ++i)
            for (int64_t e = 0; e < hd; ++e) {
                const int64_t at = (b * T + i) * D + h * hd + e;
                S[size_t(i * hd + e)] = safe_div(r_ctx[at], ctx[at]);
            }
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) {
                float t = 0;
                for (int64_t e = 0; e < hd; ++e) t += S[size_t(i * hd + e)] * v(j, e);
                RA[size_t(i * T + j)] = 0.5f * A[i * T + j] * t;
            }
        for (int64_t j = 0; j < T; ++j)
            for (int64_t e = 0; e < hd; ++e) {
                float t = 0;
                for (int64_t i = 0; i < T; ++i) t += A[i * T + j] * S[size_t(i * hd + e)];
                r_qkv[(b * T + j) * 3 * D + 2 * D + h * hd + e] = 0.5f * v(j, e) * t;
            }
        if (b < n) std::copy(RA.begin(), RA.end(), relevance.ptr() + bh * TT);
        // The softmax passes R_A on to the scores; Q Kᵀ (unscaled, Z = q·k): S3 = R_A / Z,
        // R_Q = Q ⊙ (S3 K) / 2, R_K = K ⊙ (S3ᵀ Q) / 2.
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) {
                float z = 0;
                for (int64_t e = 0; e < hd; ++e) z += q(i, e) * k(j, e);
                S3[size_t(i * T + j)] = safe_div(RA[size_t(i * T + j)], z);
            }
        for (int64_t i = 0; i < T; ++i)
            for (int64_t e = 0; e < hd; ++e) {
                float tq = 0, tk = 0;
                for (int64_t j = 0; j < T; ++j) {
                    tq += S3[size_t(i * T + j)] * k(j, e);
                    tk += S3[size_t(j * T + i)] * q(j, e);
                }
                r_qkv[(b * T + i) * 3 * D + h * hd + e] = 0.5f * q(i, e) * tq;
                r_qkv[(b * T + i) * 3 * D + D + h * hd + e] = 0.5f * k(i, e) * tk;
            }
    }
}

void CheferLrp::run(const float* x, int n, const std::vector<int>& classes, std::vector<Tensor>& relevance,
                    std::vector<Tensor>& grad) {
    const SavedActivations S = net_.saved();
    const ViTConfig& c = model_.config();
    const Parameters& p = model_.params();
    const int64_t B = S.B, K = S.K, T = S.T, H = S.H, D = S.D, M = S.M, MD = M * D, TT = T * T;
    if (static_cast<int>(classes.size()) != n)
        throw ConfigError("chefer2021-lrp: " + std::to_string(classes.size()) + " classes for " + std::to_string(n) +
                          " images");
    one_hot_rows(classes, static_cast<int>(K), static_cast<int>(B), dlogits_, "chefer2021-lrp");
    net_.forward(p, x, n);
    net_.backward(p, dlogits_.data(), grads_);  // the exact gradients d logit_c / dA
    relevance.clear();
    grad.clear();
    for (int i = 0; i < c.depth; ++i) {
        relevance.emplace_back(Shape{n, H, T, T});
        const float* g = net_.attention_grad(i);
        grad.emplace_back(Shape{n, H, T, T}, std::vector<float>(g, g + n * H * TT));
    }

    // The relevance starts as the one-hot of the explained class (the authors' code), then the heads.
    const float* r_top = dlogits_.data();
    if (S.R == 2) {
        // logits = head/2 + head_dist/2: the add rule between the halves; halving passes relevance on.
        for (int64_t e = 0; e < B * K; ++e)
            half_logits_[size_t(e)] = S.logits[size_t(e)] - 0.5f * S.logits_dist[size_t(e)];
        add_relprop(half_logits_.data(), S.logits, r_top, r_logits_.data(), r_logits_.data() + B * K, B, K);
        head_.relprop(S.pooled_norm, head_w_, r_logits_.data(), r_pooled_.data());
        head_dist_.relprop(S.pooled_norm + B * D, head_dist_w_, r_logits_.data() + B * K,
                           r_pooled_.data() + B * D);
    } else {
        head_.relprop(S.pooled_norm, head_w_, r_top, r_pooled_.data());
    }
    pool_relprop(r_pooled_.data());

    for (int i = c.depth - 1; i >= 0; --i) {
        const BlockWeights& w = blocks_[size_t(i)];
        const float *x_in = S.residual(2 * i), *x_mid = S.residual(2 * i + 1), *x_out = S.residual(2 * i + 2);
        // MLP: x_out = x_mid + fc2(gelu(fc1(norm2(x_mid)))).
        add_relprop(x_mid, x_out, r_.data(), r_a_.data(), r_b_.data(), B, T * D);
        // fc2, then GELU and norm2 pass relevance unchanged, fc1.
        fc2_.relprop(S.hidden(i), w.fc2, r_b_.data(), r_h_.data());
        fc1_.relprop(S.norm2(i), w.fc1, r_h_.data(), r_b_.data());
        for (int64_t e = 0; e < MD; ++e) r_[size_t(e)] = r_a_[size_t(e)] + r_b_[size_t(e)];  // the fork adds up
        // Attention: x_mid = x_in + proj(attention(qkv(norm1(x_in)))).
        add_relprop(x_in, x_mid, r_.data(), r_a_.data(), r_b_.data(), B, T * D);
        proj_.relprop(S.ctx(i), w.proj, r_b_.data(), r_ctx_.data());
        attention_relprop(i, r_ctx_.data(), n, relevance[size_t(i)]);
        if (i == 0) break;  // below the first attention no relevance is needed
        qkv_.relprop(S.norm1(i), w.qkv, r_qkv_.data(), r_b_.data());  // norm1 passes it on
        for (int64_t e = 0; e < MD; ++e) r_[size_t(e)] = r_a_[size_t(e)] + r_b_[size_t(e)];
    }
}

}  // namespace vit
