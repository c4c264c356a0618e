// The ViT forward pass on oneDNN primitives, planned once per (model, batch size).
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "vit/error.hpp"
#include "vit/layers/layernorm.hpp"
#include "vit/layers/matmul.hpp"
#include "vit/layers/softmax.hpp"
#include "vit/model.hpp"

namespace vit {

using layers::Epilogue;
using layers::View;

struct Runner::Impl {
    const Model& model;
    const ViTConfig c;
    const RunOptions opts;
    const int64_t B, P, T, D, H, hd, Hd, K, patch_len, prefix;

    // Activations, (rows, channels) row-major. Rows are (image, token) pairs.
    std::vector<float> patches;  // (B*P, C*p*p)   im2col of the non-overlapping patches
    std::vector<float> tokens;   // (B*P, D)       patch embeddings
    std::vector<float> x;        // (B*T, D)       residual stream
    std::vector<float> ln;       // (B*T, D)
    std::vector<float> qkv;      // (B*T, 3D)      rows ordered (q|k|v, head, channel)
    std::vector<float> att;      // depth or 1 x (B, H, T, T)
    std::vector<float> ctx;      // (B*T, D)       heads concatenated
    std::vector<float> hid;      // (B*T, Hd)
    std::vector<float> pooled;   // (B, D)
    std::vector<float> pooled_ln;
    std::vector<float> logits;   // (B, K)

    layers::Matmul patch_mm, qkv_mm, qk_mm, av_mm, proj_mm, fc1_mm, fc2_mm, head_mm;
    layers::LayerNorm ln_tokens, ln_rows;
    layers::Softmax softmax;

    Impl(const Model& m, int batch, RunOptions o)
        : model(m), c(m.config()), opts(o), B(batch), P(c.num_patches()), T(c.num_tokens()), D(c.embed_dim),
          H(c.num_heads), hd(c.head_dim()), Hd(c.mlp_hidden()), K(c.num_classes),
          patch_len(int64_t(c.in_chans) * c.patch_size * c.patch_size), prefix(c.num_prefix()) {
        if (batch <= 0) throw ConfigError("batch size must be positive, got " + std::to_string(batch));
        if (o.threads > 0) omp_set_num_threads(o.threads);
        const int64_t M = B * T;
        patches.resize(B * P * patch_len);
        tokens.resize(B * P * D);
        x.resize(M * D);
        ln.resize(M * D);
        qkv.resize(M * 3 * D);
        att.resize((o.capture_attention ? c.depth : 1) * B * H * T * T);
        ctx.resize(M * D);
        hid.resize(M * Hd);
        pooled.resize(B * D);
        pooled_ln.resize(B * D);
        logits.resize(B * K);

        // PyTorch stores a Linear weight as (out, in); read as the (in, out) right operand it is
        // the transposed view with strides (1, in), so no copy or reorder is needed.
        auto linear = [](int64_t rows, int64_t in, int64_t out, bool bias, Epilogue ep) {
            return layers::Matmul({{rows, in}, {}}, {{in, out}, {1, in}}, {{rows, out}, {}}, bias, ep);
        };
        // A convolution whose stride equals its kernel sees every pixel once: it is the matmul of the
        // (B*P, C*p*p) patch matrix with the (D, C*p*p) flattened kernel.
        patch_mm = linear(B * P, patch_len, D, true, Epilogue::None);
        qkv_mm = linear(M, D, 3 * D, c.qkv_bias, Epilogue::None);
        proj_mm = linear(M, D, D, true, Epilogue::Accumulate);
        fc1_mm = linear(M, D, Hd, true, Epilogue::Gelu);
        fc2_mm = linear(M, Hd, D, true, Epilogue::Accumulate);
        head_mm = linear(B, D, K, true, Epilogue::None);

        // Per-head views into the fused qkv rows: element (b, t, s, h, j) sits at
        // b*T*3D + t*3D + s*D + h*hd + j, s in {q, k, v}.
        const int64_t row = 3 * D;
        const View q{{B, H, T, hd}, {T * row, hd, row, 1}};
        const View kT{{B, H, hd, T}, {T * row, hd, 1, row}};
        const View scores{{B, H, T, T}, {}};
        const View out{{B, H, T, hd}, {T * D, hd, D, 1}};  // writes heads side by side: (B*T, D)
        qk_mm = layers::Matmul(q, kT, scores, false, Epilogue::None, 1.0f / std::sqrt(static_cast<float>(hd)));
        av_mm = layers::Matmul(scores, q, out, false, Epilogue::None);
        softmax = layers::Softmax({B, H, T, T});
        ln_tokens = layers::LayerNorm(M, D, c.ln_eps);
        ln_rows = layers::LayerNorm(B, D, c.ln_eps);
    }

    const float* p(const std::string& name) const { return model.params().get(name); }

    // (n, C, H, W) images -> (B*P, C*p*p) rows, each row one patch in (channel, y, x) order, the
    // order of the flattened convolution kernel. Rows of absent images are zero.
    void im2col(const float* img, int n) {
        const int ps = c.patch_size, gw = c.grid_w();
        const int64_t HW = int64_t(c.img_h) * c.img_w;
#pragma omp parallel for collapse(2)
        for (int64_t b = 0; b < B; ++b)
            for (int64_t pi = 0; pi < P; ++pi) {
                float* dst = patches.data() + (b * P + pi) * patch_len;
                if (b >= n) {
                    std::fill(dst, dst + patch_len, 0.0f);
                    continue;
                }
                const int64_t y0 = (pi / gw) * ps, x0 = (pi % gw) * ps;
                for (int ci = 0; ci < c.in_chans; ++ci)
                    for (int ky = 0; ky < ps; ++ky) {
                        const float* src = img + b * c.in_chans * HW + ci * HW + (y0 + ky) * c.img_w + x0;
                        std::copy(src, src + ps, dst + (int64_t(ci) * ps + ky) * ps);
                    }
            }
    }

    const float* forward(const float* img, int n) {
        if (n <= 0 || n > B)
            throw ConfigError("forward of " + std::to_string(n) + " images on a runner planned for batch " +
                              std::to_string(B));
        im2col(img, n);
        patch_mm.run(patches.data(), p("patch_embed.proj.weight"), p("patch_embed.proj.bias"), tokens.data());

        // Prepend the class token, then add the position embedding to every token.
        const float* pos = p("pos_embed");
        const float* cls = c.class_token ? p("cls_token") : nullptr;
#pragma omp parallel for
        for (int64_t b = 0; b < B; ++b) {
            for (int64_t t = 0; t < T; ++t) {
                const float* src = t < prefix ? cls : tokens.data() + (b * P + t - prefix) * D;
                float* dst = x.data() + (b * T + t) * D;
                for (int64_t j = 0; j < D; ++j) dst[j] = src[j] + pos[t * D + j];
            }
        }

        for (int i = 0; i < c.depth; ++i) {
            const std::string blk = "blocks." + std::to_string(i) + ".";
            float* a = att.data() + (opts.capture_attention ? i * B * H * T * T : 0);
            ln_tokens.forward(x.data(), p(blk + "norm1.weight"), p(blk + "norm1.bias"), ln.data());
            qkv_mm.run(ln.data(), p(blk + "attn.qkv.weight"), c.qkv_bias ? p(blk + "attn.qkv.bias") : nullptr,
                       qkv.data());
            qk_mm.run(qkv.data(), qkv.data() + D, nullptr, a);  // (B, H, T, T) = Q Kᵀ / sqrt(hd)
            softmax.forward(a, a);
            av_mm.run(a, qkv.data() + 2 * D, nullptr, ctx.data());
            proj_mm.run(ctx.data(), p(blk + "attn.proj.weight"), p(blk + "attn.proj.bias"), x.data());
            ln_tokens.forward(x.data(), p(blk + "norm2.weight"), p(blk + "norm2.bias"), ln.data());
            fc1_mm.run(ln.data(), p(blk + "mlp.fc1.weight"), p(blk + "mlp.fc1.bias"), hid.data());
            fc2_mm.run(hid.data(), p(blk + "mlp.fc2.weight"), p(blk + "mlp.fc2.bias"), x.data());
        }

        // Pooling. With a class token the final LayerNorm only matters on its row; timm's avg pool
        // averages the patch tokens (prefix tokens excluded), before fc_norm or after norm.
        const std::string nrm = c.fc_norm ? "fc_norm" : "norm";
        if (c.global_pool == GlobalPool::Token) {
            for (int64_t b = 0; b < B; ++b) std::copy_n(x.data() + b * T * D, D, pooled.data() + b * D);
            ln_rows.forward(pooled.data(), p(nrm + ".weight"), p(nrm + ".bias"), pooled_ln.data());
        } else {
            const bool norm_first = !c.fc_norm;
            if (norm_first) ln_tokens.forward(x.data(), p(nrm + ".weight"), p(nrm + ".bias"), ln.data());
            const float* src = norm_first ? ln.data() : x.data();
            float* dst = norm_first ? pooled_ln.data() : pooled.data();
            for (int64_t b = 0; b < B; ++b) {
                float* out = dst + b * D;
                std::fill(out, out + D, 0.0f);
                for (int64_t t = prefix; t < T; ++t)
                    for (int64_t j = 0; j < D; ++j) out[j] += src[(b * T + t) * D + j];
                for (int64_t j = 0; j < D; ++j) out[j] /= static_cast<float>(P);
            }
            if (!norm_first) ln_rows.forward(pooled.data(), p(nrm + ".weight"), p(nrm + ".bias"), pooled_ln.data());
        }
        head_mm.run(pooled_ln.data(), p("head.weight"), p("head.bias"), logits.data());
        return logits.data();
    }
};

Runner::Runner(const Model& model, int batch, RunOptions opts) : impl_(std::make_unique<Impl>(model, batch, opts)) {}
Runner::~Runner() = default;

int Runner::batch() const { return static_cast<int>(impl_->B); }

const float* Runner::forward(const float* x, int n) { return impl_->forward(x, n); }

const float* Runner::attention(int block) const {
    if (!impl_->opts.capture_attention)
        throw ConfigError("attention maps were not captured: create the Runner with capture_attention");
    if (block < 0 || block >= impl_->c.depth)
        throw ConfigError("block " + std::to_string(block) + " out of range [0, " + std::to_string(impl_->c.depth) + ")");
    return impl_->att.data() + block * impl_->B * impl_->H * impl_->T * impl_->T;
}

}  // namespace vit
