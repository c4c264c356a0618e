// A plain, loop-by-loop ViT forward in double precision: the reference the oneDNN layers are checked
// against for every configuration option (no fixture needed).
#pragma once
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "vit/model.hpp"

namespace vit::reference {

// A model of the given shape with every parameter drawn from N(0, 0.3) by std::mt19937(seed). timm's
// init zeroes biases, sets LayerNorm to identity and makes attention rows nearly uniform, which would
// hide bugs in those paths.
inline Model random_model(const ViTConfig& cfg, unsigned seed) {
    PreprocessConfig pre;
    pre.channels = cfg.in_chans;
    pre.height = cfg.img_h;
    pre.width = cfg.img_w;
    pre.mean.assign(size_t(cfg.in_chans), 0.5f);
    pre.std.assign(size_t(cfg.in_chans), 0.5f);
    Model m(cfg, pre, {}, seed);
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 0.3f);
    for (size_t i = 0; i < m.params().size(); ++i) m.params().data()[i] = d(rng);
    return m;
}

using Mat = std::vector<double>;  // row-major (rows, cols)

// y (M, N) = x (M, K) · W (N, K)ᵀ + b
inline Mat linear(const Mat& x, int M, int K, const float* W, const float* b, int N) {
    Mat y(size_t(M) * N);
    for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
            double s = b ? b[n] : 0.0;
            for (int k = 0; k < K; ++k) s += x[size_t(m) * K + k] * W[size_t(n) * K + k];
            y[size_t(m) * N + n] = s;
        }
    return y;
}

inline Mat layernorm(const Mat& x, int M, int C, const float* g, const float* b, double eps) {
    Mat y(x.size());
    for (int m = 0; m < M; ++m) {
        double mean = 0, var = 0;
        for (int c = 0; c < C; ++c) mean += x[size_t(m) * C + c];
        mean /= C;
        for (int c = 0; c < C; ++c) var += (x[size_t(m) * C + c] - mean) * (x[size_t(m) * C + c] - mean);
        var /= C;
        for (int c = 0; c < C; ++c) y[size_t(m) * C + c] = (x[size_t(m) * C + c] - mean) / std::sqrt(var + eps) * g[c] + b[c];
    }
    return y;
}

inline double gelu(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

// Logits (1, K) of one image (C, H, W); attention maps (H, T, T) per block appended to attn.
inline Mat forward(const Model& model, const float* img, std::vector<Mat>* attn = nullptr) {
    const ViTConfig& c = model.config();
    const Parameters& P = model.params();
    auto p = [&](const std::string& n) { return P.get(n); };
    const int D = c.embed_dim, T = c.num_tokens(), NP = c.num_patches(), ps = c.patch_size, pre = c.num_prefix();
    const int H = c.num_heads, hd = c.head_dim(), Hd = c.mlp_hidden();
    Mat x(size_t(T) * D);
    const float* w = p("patch_embed.proj.weight");
    for (int pi = 0; pi < NP; ++pi) {
        const int y0 = pi / c.grid_w() * ps, x0 = pi % c.grid_w() * ps;
        for (int d = 0; d < D; ++d) {
            double s = p("patch_embed.proj.bias")[d];
            for (int ci = 0; ci < c.in_chans; ++ci)
                for (int ky = 0; ky < ps; ++ky)
                    for (int kx = 0; kx < ps; ++kx)
                        s += w[((size_t(d) * c.in_chans + ci) * ps + ky) * ps + kx] *
                             img[(size_t(ci) * c.img_h + y0 + ky) * c.img_w + x0 + kx];
            x[size_t(pi + pre) * D + d] = s;
        }
    }
    if (c.class_token)
        for (int d = 0; d < D; ++d) x[d] = p("cls_token")[d];
    for (size_t i = 0; i < x.size(); ++i) x[i] += p("pos_embed")[i];
    for (int blk = 0; blk < c.depth; ++blk) {
        const std::string b = "blocks." + std::to_string(blk) + ".";
        Mat h = layernorm(x, T, D, p(b + "norm1.weight"), p(b + "norm1.bias"), c.ln_eps);
        Mat qkv = linear(h, T, D, p(b + "attn.qkv.weight"), c.qkv_bias ? p(b + "attn.qkv.bias") : nullptr, 3 * D);
        Mat ctx(size_t(T) * D, 0.0), A(size_t(H) * T * T);
        for (int hh = 0; hh < H; ++hh)
            for (int i = 0; i < T; ++i) {
                double mx = -1e300;
                std::vector<double> s(T);
                for (int j = 0; j < T; ++j) {
                    double v = 0;
                    for (int e = 0; e < hd; ++e)
                        v += qkv[size_t(i) * 3 * D + hh * hd + e] * qkv[size_t(j) * 3 * D + D + hh * hd + e];
                    s[j] = v / std::sqrt(double(hd));
                    mx = std::max(mx, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < T; ++j) sum += s[j] = std::exp(s[j] - mx);
                for (int j = 0; j < T; ++j) {
                    s[j] /= sum;
                    A[(size_t(hh) * T + i) * T + j] = s[j];
                    for (int e = 0; e < hd; ++e) ctx[size_t(i) * D + hh * hd + e] += s[j] * qkv[size_t(j) * 3 * D + 2 * D + hh * hd + e];
                }
            }
        if (attn) attn->push_back(A);
        Mat o = linear(ctx, T, D, p(b + "attn.proj.weight"), p(b + "attn.proj.bias"), D);
        for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
        h = layernorm(x, T, D, p(b + "norm2.weight"), p(b + "norm2.bias"), c.ln_eps);
        Mat f = linear(h, T, D, p(b + "mlp.fc1.weight"), p(b + "mlp.fc1.bias"), Hd);
        for (double& v : f) v = gelu(v);
        o = linear(f, T, Hd, p(b + "mlp.fc2.weight"), p(b + "mlp.fc2.bias"), D);
        for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    }
    Mat pooled(D, 0.0);
    if (c.global_pool == GlobalPool::Token) {
        Mat cls(x.begin(), x.begin() + D);
        pooled = c.fc_norm ? layernorm(cls, 1, D, p("fc_norm.weight"), p("fc_norm.bias"), c.ln_eps)
                           : layernorm(cls, 1, D, p("norm.weight"), p("norm.bias"), c.ln_eps);
    } else {
        Mat src = c.fc_norm ? x : layernorm(x, T, D, p("norm.weight"), p("norm.bias"), c.ln_eps);
        for (int t = pre; t < T; ++t)
            for (int d = 0; d < D; ++d) pooled[d] += src[size_t(t) * D + d] / NP;
        if (c.fc_norm) pooled = layernorm(pooled, 1, D, p("fc_norm.weight"), p("fc_norm.bias"), c.ln_eps);
    }
    return linear(pooled, 1, D, p("head.weight"), p("head.bias"), c.num_classes);
}

}  // namespace vit::reference
