#include "model/network/network.hpp"

#include <algorithm>

#include "model/network/buffers.hpp"
#include "vit/util/error.hpp"

namespace vit {

// (n, C, H, W) images -> (B*P, C*p*p) rows, each one patch in (channel, y, x) order: the order of the
// flattened convolution kernel.
void Network::im2col(const float* img, int n) {
    const int ps = c_.patch_size, gw = c_.grid_w();
    const int64_t HW = int64_t(c_.img_h) * c_.img_w;
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < B_; ++b)
        for (int64_t pi = 0; pi < P_; ++pi) {
            float* dst = patches_.data() + (b * P_ + pi) * patch_len_;
            if (b >= n) {
                std::fill(dst, dst + patch_len_, 0.0f);
                continue;
            }
            const int64_t y0 = (pi / gw) * ps, x0 = (pi % gw) * ps;
            for (int ci = 0; ci < c_.in_chans; ++ci)
                for (int ky = 0; ky < ps; ++ky) {
                    const float* src = img + (b * c_.in_chans + ci) * HW + (y0 + ky) * c_.img_w + x0;
                    std::copy(src, src + ps, dst + (int64_t(ci) * ps + ky) * ps);
                }
        }
}

// Prefix tokens (class, distillation, registers) and the patch tokens, plus the position embedding:
// on every token, or on the patches only (no_embed_class); then dropout and, with pre_norm, norm_pre.
void Network::embed_forward(const Parameters& p) {
    float* x = c_.pre_norm ? emb_.data() : stream(0);
    const float* pos = at(p, off_.pos);
    const int64_t pos_first = c_.no_embed_class ? prefix_ : 0;  // the first token with a position row
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < B_; ++b)
        for (int64_t t = 0; t < T_; ++t) {
            const float* src =
                t >= prefix_ ? tokens_.data() + (b * P_ + t - prefix_) * D_ : at(p, prefix_offset(t));
            float* dst = x + (b * T_ + t) * D_;
            if (t < pos_first) {
                std::copy_n(src, D_, dst);
            } else {
                const float* pe = pos + (t - pos_first) * D_;
                for (int64_t j = 0; j < D_; ++j) dst[j] = src[j] + pe[j];
            }
        }
    drop_.apply(x, x, M_ * D_, key(Site::Pos, 0), mask_first(T_ * D_));
    if (c_.pre_norm)
        ln_tokens_.forward(x, at(p, off_.norm_pre_w), at(p, off_.norm_pre_b), stream(0),
                           modes_.training ? emb_mean_.data() : nullptr, modes_.training ? emb_var_.data() : nullptr);
}

void Network::pack_weights(const Parameters& p) {
    if (mode() == Mode::Int8) {
        int8_weights_.clear();
        for (const BlockParams& o : off_.blocks)
            int8_weights_.push_back({qkv8_.pack(at(p, o.qkv_w), at(p, o.qkv_b)),
                                     proj8_.pack(at(p, o.proj_w), at(p, o.proj_b)),
                                     fc1_8_.pack(at(p, o.fc1_w), at(p, o.fc1_b)),
                                     fc2_8_.pack(at(p, o.fc2_w), at(p, o.fc2_b))});
        packed_from_ = &p;
        return;
    }
    if (mode() != Mode::Bf16) return;
    packed_.clear();
    for (const BlockParams& o : off_.blocks)
        packed_.push_back({qkv_l_.pack(at(p, o.qkv_w)), proj_.pack(at(p, o.proj_w)), fc1_.pack(at(p, o.fc1_w)),
                           fc2_.pack(at(p, o.fc2_w))});
    packed_from_ = &p;
}

const void* Network::weight(const Parameters& p, size_t offset, int block, dnnl::memory PackedBlock::*packed) const {
    if (mode() == Mode::MixedBf16) return params16_.data() + offset;
    return mode() == Mode::Bf16 ? (packed_[size_t(block)].*packed).get_data_handle() : at(p, offset);
}

const float* Network::forward(const Parameters& p, const float* img, int n) {
    if (n <= 0 || n > B_)
        throw ConfigError("forward of " + std::to_string(n) + " images on a network planned for batch " +
                          std::to_string(B_));
    if (modes_.precision.packs_weights() && packed_from_ != &p)
        throw ConfigError(std::string("a ") + (mode() == Mode::Int8 ? "int8" : "bf16") +
                          " network runs the parameters its weights were packed from (call pack_weights)");
    // Mixed precision: the bf16 copy of the current (just updated) f32 weights, once per step.
    if (mode() == Mode::MixedBf16) params_to_bf16_.run(p.data(), params16_.data());
    im2col(img, n);
    patch_.forward(patches_.data(), at(p, off_.patch_w), at(p, off_.patch_b), tokens_.data());
    embed_forward(p);

    const int64_t MD = M_ * D_;
    for (int i = 0; i < c_.depth; ++i) {
        const BlockParams& o = off_.blocks[size_t(i)];
        float *x_in = stream(2 * i), *x_mid = stream(2 * i + 1), *x_out = stream(2 * i + 2);
        const BlockOperands op = operands(i);
        void *ln1 = op.ln1, *ln2 = op.ln2, *qkv = op.qkv, *ctx = op.ctx, *hact = op.hidden, *hact_in = op.hidden_in;
        float* att = op.att;
        layers::LayerNorm& block_norm = modes_.precision.bf16_operands() ? ln_to_bf16_ : ln_tokens_;
        float* m1 = modes_.training ? at(mean1_, i, M_, true) : nullptr;
        float* v1 = modes_.training ? at(var1_, i, M_, true) : nullptr;
        float* m2 = modes_.training ? at(mean2_, i, M_, true) : nullptr;
        float* v2 = modes_.training ? at(var2_, i, M_, true) : nullptr;
        if (mode() == Mode::Int8) {
            int8_block(p, i, x_in, x_mid, x_out, att);
            continue;
        }

        block_norm.forward(x_in, at(p, o.norm1_w), at(p, o.norm1_b), ln1, m1, v1);
        qkv_l_.forward(ln1, weight(p, o.qkv_w, i, &PackedBlock::qkv), at(p, o.qkv_b), qkv);
        attn_.forward(qkv, att, ctx, key(Site::Attention, i), att_drop_.data());
        if (modes_.branched) {
            float* br = branch(2 * i);
            proj_.forward(ctx, weight(p, o.proj_w, i, &PackedBlock::proj), at(p, o.proj_b), br);
            drop_.apply(br, br, MD, key(Site::Proj, i), mask_first(T_ * D_));
            add_branch(x_in, drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i) * B_, at(p, o.ls1), br, x_mid);
        } else {
            if (x_mid != x_in) std::copy(x_in, x_in + MD, x_mid);
            proj_.forward(ctx, weight(p, o.proj_w, i, &PackedBlock::proj), at(p, o.proj_b), x_mid);
        }
        block_norm.forward(x_mid, at(p, o.norm2_w), at(p, o.norm2_b), ln2, m2, v2);
        if (modes_.training) {
            float* hpre = at(hpre_, i, M_ * Hm_, true);
            float* h = static_cast<float*>(hact);
            fc1_.forward(ln2, weight(p, o.fc1_w, i, &PackedBlock::fc1), at(p, o.fc1_b), hpre);
            gelu_.forward(hpre, h);
            drop_.apply(h, h, M_ * Hm_, key(Site::Hidden, i), mask_first(T_ * Hm_));
            if (mode() == Mode::MixedBf16) h_to_bf16_.run(h, hact_in);
        } else {
            // the activation fused
            fc1_.forward(ln2, weight(p, o.fc1_w, i, &PackedBlock::fc1), at(p, o.fc1_b), hact);
        }
        if (modes_.branched) {
            float* br = branch(2 * i + 1);
            fc2_.forward(hact_in, weight(p, o.fc2_w, i, &PackedBlock::fc2), at(p, o.fc2_b), br);
            drop_.apply(br, br, MD, key(Site::Mlp, i), mask_first(T_ * D_));
            add_branch(x_mid, drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i + 1) * B_, at(p, o.ls2), br,
                       x_out);
        } else {
            if (x_out != x_mid) std::copy(x_mid, x_mid + MD, x_out);
            fc2_.forward(hact_in, weight(p, o.fc2_w, i, &PackedBlock::fc2), at(p, o.fc2_b), x_out);
        }
    }
    pool_forward(p);
    head_dropout(pooled_ln_.data());
    if (K_ == 0) {
        if (R_ == 1) return pooled_ln_.data();
        // Distilled without heads: timm returns the mean of the class and distillation features.
        for (int64_t i = 0; i < B_ * D_; ++i) features_[size_t(i)] = 0.5f * (pooled_ln_[size_t(i)] + pooled_ln_[size_t(B_ * D_ + i)]);
        return features_.data();
    }
    head_.forward(pooled_ln_.data(), at(p, off_.head_w), at(p, off_.head_b), logits_.data());
    if (R_ == 2) {  // DeiT: the class and distillation heads, averaged (as timm outside distilled training)
        head_dist_.forward(pooled_ln_.data() + B_ * D_, at(p, off_.head_dist_w), at(p, off_.head_dist_b),
                           logits_dist_.data());
        for (int64_t i = 0; i < B_ * K_; ++i) logits_[size_t(i)] = 0.5f * (logits_[size_t(i)] + logits_dist_[size_t(i)]);
    }
    return logits_.data();
}

// Pooling, as timm: with token pooling only the class token's row (and the distillation token's) goes
// through the final norm; avg pooling averages the patch tokens (prefix tokens excluded) and map pooling
// attends over them, each normalised before (norm) or after (fc_norm). TokenAvg (Hugging Face's DINOv2
// classifier) normalises every token, then writes the class token's row and the patch mean side by side.
void Network::pool_forward(const Parameters& p) {
    const float *g = at(p, off_.norm_w), *bt = at(p, off_.norm_b);
    const float* x = stream(modes_.training ? 2 * c_.depth : 0);
    float* mean = modes_.training ? fin_mean_.data() : nullptr;
    float* var = modes_.training ? fin_var_.data() : nullptr;
    if (c_.global_pool == GlobalPool::Token) {
        // pooled_ rows (r, b): token r of image b.
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t b = 0; b < B_; ++b) std::copy_n(x + (b * T_ + r) * D_, D_, pooled_.data() + (r * B_ + b) * D_);
        ln_rows_.forward(pooled_.data(), g, bt, pooled_ln_.data(), mean, var);
        return;
    }
    const bool norm_first = !c_.fc_norm;
    if (norm_first) ln_tokens_.forward(x, g, bt, fin_.data(), mean, var);
    const float* src = norm_first ? fin_.data() : x;
    float* dst = norm_first ? pooled_ln_.data() : pooled_.data();
    if (c_.global_pool == GlobalPool::Map) {
        attn_pool_.forward(attn_pool_tensors(p, off_.pool), src, dst);
    } else {
        // Row b of dst is F wide: [class token ;] mean of the patch tokens, the mean in the last D.
        const bool with_cls = c_.global_pool == GlobalPool::TokenAvg;
        for (int64_t b = 0; b < B_; ++b) {
            float* out = dst + b * F_;
            if (with_cls) std::copy_n(src + b * T_ * D_, D_, out);
            float* avg = out + F_ - D_;
            std::fill(avg, avg + D_, 0.0f);
            for (int64_t t = prefix_; t < T_; ++t)
                for (int64_t j = 0; j < D_; ++j) avg[j] += src[(b * T_ + t) * D_ + j];
            for (int64_t j = 0; j < D_; ++j) avg[j] /= static_cast<float>(P_);
        }
    }
    if (!norm_first) ln_rows_.forward(pooled_.data(), g, bt, pooled_ln_.data(), mean, var);
}

}  // namespace vit
