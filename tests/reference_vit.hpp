// A plain, loop-by-loop ViT forward in double precision: the reference the oneDNN layers are checked
// against for every configuration option (no fixture needed).
#pragma once
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "vit/model/model.hpp"

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

inline double activation(double v, Activation act) {
    switch (act) {
    case Activation::QuickGelu: return v / (1.0 + std::exp(-1.702 * v));
    case Activation::GeluTanh:
        return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / 3.14159265358979323846) * (v + 0.044715 * v * v * v)));
    case Activation::Gelu: break;
    }
    return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
}

// timm's AttentionPoolLatent over rows [first, T) of x (T, D): one latent query, then proj and a
// residual MLP.
inline Mat attention_pool(const Parameters& P, const ViTConfig& c, const Mat& x, int T, int first) {
    auto p = [&](const std::string& n) { return P.get("attn_pool." + n); };
    const int D = c.embed_dim, H = c.num_heads, hd = c.head_dim(), Hd = c.mlp_hidden(), N = T - first;
    const Mat latent(p("latent"), p("latent") + D);
    const Mat q = linear(latent, 1, D, p("q.weight"), p("q.bias"), D);
    const Mat kv = linear(Mat(x.begin() + size_t(first) * D, x.end()), N, D, p("kv.weight"), p("kv.bias"), 2 * D);
    Mat o(size_t(D), 0.0);
    for (int h = 0; h < H; ++h) {
        std::vector<double> s(static_cast<size_t>(N), 0.0);
        double mx = -1e300, sum = 0;
        for (int n = 0; n < N; ++n) {
            double v = 0;
            for (int e = 0; e < hd; ++e) v += q[size_t(h * hd + e)] * kv[size_t(n) * 2 * D + h * hd + e];
            s[size_t(n)] = v / std::sqrt(double(hd));
            mx = std::max(mx, s[size_t(n)]);
        }
        for (double& v : s) sum += v = std::exp(v - mx);
        for (int n = 0; n < N; ++n)
            for (int e = 0; e < hd; ++e) o[size_t(h * hd + e)] += s[size_t(n)] / sum * kv[size_t(n) * 2 * D + D + h * hd + e];
    }
    Mat y = linear(o, 1, D, p("proj.weight"), p("proj.bias"), D);
    Mat f = linear(layernorm(y, 1, D, p("norm.weight"), p("norm.bias"), c.ln_eps), 1, D, p("mlp.fc1.weight"),
                   p("mlp.fc1.bias"), Hd);
    for (double& v : f) v = activation(v, c.act);
    const Mat m = linear(f, 1, Hd, p("mlp.fc2.weight"), p("mlp.fc2.bias"), D);
    for (int d = 0; d < D; ++d) y[size_t(d)] += m[size_t(d)];
    return y;
}

// The input embedding (T, D) of one image (C, H, W): prefix tokens and patch embeddings plus the
// position embedding, before norm_pre.
inline Mat embed(const Model& model, const float* img) {
    const ViTConfig& c = model.config();
    const Parameters& P = model.params();
    auto p = [&](const std::string& n) { return P.get(n); };
    const int D = c.embed_dim, T = c.num_tokens(), NP = c.num_patches(), ps = c.patch_size, pre = c.num_prefix();
    Mat x(size_t(T) * D);
    const float* w = p("patch_embed.proj.weight");
    for (int pi = 0; pi < NP; ++pi) {
        const int y0 = pi / c.grid_w() * ps, x0 = pi % c.grid_w() * ps;
        for (int d = 0; d < D; ++d) {
            double s = c.patch_bias() ? p("patch_embed.proj.bias")[d] : 0.0;
            for (int ci = 0; ci < c.in_chans; ++ci)
                for (int ky = 0; ky < ps; ++ky)
                    for (int kx = 0; kx < ps; ++kx)
                        s += w[((size_t(d) * c.in_chans + ci) * ps + ky) * ps + kx] *
                             img[(size_t(ci) * c.img_h + y0 + ky) * c.img_w + x0 + kx];
            x[size_t(pi + pre) * D + d] = s;
        }
    }
    // Prefix tokens in timm's order: class, distillation, registers.
    int t0 = 0;
    if (c.class_token)
        for (int d = 0; d < D; ++d) x[size_t(t0 * D + d)] = p("cls_token")[d];
    t0 += c.class_token ? 1 : 0;
    if (c.distilled)
        for (int d = 0; d < D; ++d) x[size_t(t0 * D + d)] = p("dist_token")[d];
    t0 += c.distilled ? 1 : 0;
    for (int r = 0; r < c.reg_tokens; ++r)
        for (int d = 0; d < D; ++d) x[size_t((t0 + r) * D + d)] = p("reg_token")[r * D + d];
    const size_t pos_first = c.no_embed_class ? size_t(pre) * D : 0;  // no_embed_class: patches only
    for (size_t i = pos_first; i < x.size(); ++i) x[i] += p("pos_embed")[i - pos_first];
    return x;
}

// Logits (1, K) of one image (C, H, W); attention maps (H, T, T) per block appended to attn.
inline Mat forward(const Model& model, const float* img, std::vector<Mat>* attn = nullptr) {
    const ViTConfig& c = model.config();
    const Parameters& P = model.params();
    auto p = [&](const std::string& n) { return P.get(n); };
    const int D = c.embed_dim, T = c.num_tokens(), NP = c.num_patches(), pre = c.num_prefix();
    const int H = c.num_heads, hd = c.head_dim(), Hd = c.mlp_hidden();
    Mat x = embed(model, img);
    if (c.pre_norm) x = layernorm(x, T, D, p("norm_pre.weight"), p("norm_pre.bias"), c.ln_eps);
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
        const float* ls1 = c.layer_scale() ? p(b + "ls1.gamma") : nullptr;
        for (size_t i = 0; i < x.size(); ++i) x[i] += (ls1 ? ls1[i % size_t(D)] : 1.0) * o[i];
        h = layernorm(x, T, D, p(b + "norm2.weight"), p(b + "norm2.bias"), c.ln_eps);
        Mat f = linear(h, T, D, p(b + "mlp.fc1.weight"), p(b + "mlp.fc1.bias"), Hd);
        for (double& v : f) v = activation(v, c.act);
        o = linear(f, T, Hd, p(b + "mlp.fc2.weight"), p(b + "mlp.fc2.bias"), D);
        const float* ls2 = c.layer_scale() ? p(b + "ls2.gamma") : nullptr;
        for (size_t i = 0; i < x.size(); ++i) x[i] += (ls2 ? ls2[i % size_t(D)] : 1.0) * o[i];
    }
    const std::string fin = c.fc_norm ? "fc_norm" : "norm";
    Mat pooled(D, 0.0);
    if (c.global_pool == GlobalPool::Token) {
        // The class token's row (and the distillation token's): normalised, then one head each, averaged.
        const int rows = c.distilled ? 2 : 1;
        const Mat tok = layernorm(Mat(x.begin(), x.begin() + rows * D), rows, D, p(fin + ".weight"), p(fin + ".bias"), c.ln_eps);
        if (c.num_classes == 0) {
            for (int d = 0; d < D; ++d) pooled[size_t(d)] = rows == 2 ? 0.5 * (tok[size_t(d)] + tok[size_t(D + d)]) : tok[size_t(d)];
            return pooled;
        }
        Mat z = linear(Mat(tok.begin(), tok.begin() + D), 1, D, p("head.weight"), p("head.bias"), c.num_classes);
        if (rows == 2) {
            const Mat zd = linear(Mat(tok.begin() + D, tok.end()), 1, D, p("head_dist.weight"), p("head_dist.bias"), c.num_classes);
            for (size_t k = 0; k < z.size(); ++k) z[k] = 0.5 * (z[k] + zd[k]);
        }
        return z;
    }
    Mat src = c.fc_norm ? x : layernorm(x, T, D, p("norm.weight"), p("norm.bias"), c.ln_eps);
    if (c.global_pool == GlobalPool::Map) {
        pooled = attention_pool(P, c, src, T, pre);
    } else if (c.global_pool == GlobalPool::TokenAvg) {
        // [normed class token ; mean of the normed patch tokens], 2D wide (Hugging Face's DINOv2 classifier).
        pooled.assign(size_t(2 * D), 0.0);
        for (int d = 0; d < D; ++d) pooled[size_t(d)] = src[size_t(d)];
        for (int t = pre; t < T; ++t)
            for (int d = 0; d < D; ++d) pooled[size_t(D + d)] += src[size_t(t) * D + d] / NP;
    } else {
        for (int t = pre; t < T; ++t)
            for (int d = 0; d < D; ++d) pooled[d] += src[size_t(t) * D + d] / NP;
    }
    if (c.fc_norm) pooled = layernorm(pooled, 1, D, p("fc_norm.weight"), p("fc_norm.bias"), c.ln_eps);
    if (c.num_classes == 0) return pooled;
    return linear(pooled, 1, c.num_features(), p("head.weight"), p("head.bias"), c.num_classes);
}

}  // namespace vit::reference
