#include "model/network/network.hpp"

#include <algorithm>

#include "model/network/buffers.hpp"
#include "vit/util/error.hpp"

namespace vit {

void Network::norm_backward(BackwardRule rule, layers::LayerNorm& ln, const float* x, const float* mean,
                            const float* var, const float* gamma, const float* dy, float* dx, float* dgamma,
                            float* dbeta) {
    if (rule == BackwardRule::AttnLrp)
        ln.backward_fixed_scale(var, gamma, dy, dx);
    else
        ln.backward(x, mean, var, gamma, dy, dx, dgamma, dbeta);
}

// Mirror of pool_forward: dpooled_ln (R*B, F) -> dx (B*T, D), written.
void Network::pool_backward(const Parameters& p, Parameters& grads, float* dx, BackwardRule rule) {
    const float* g = at(p, off_.norm_w);
    float *dg = at(grads, off_.norm_w), *db = at(grads, off_.norm_b);
    const float* x = stream(2 * c_.depth);
    std::fill(dx, dx + M_ * D_, 0.0f);
    if (c_.global_pool == GlobalPool::Token) {
        norm_backward(rule, ln_rows_, pooled_.data(), fin_mean_.data(), fin_var_.data(), g, dpooled_ln_.data(),
                      dpooled_.data(), dg, db);
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t b = 0; b < B_; ++b) std::copy_n(dpooled_.data() + (r * B_ + b) * D_, D_, dx + (b * T_ + r) * D_);
        return;
    }
    // d pooled features: after fc_norm's backward, or straight from the head.
    const float* dpool = dpooled_ln_.data();
    if (c_.fc_norm) {
        norm_backward(rule, ln_rows_, pooled_.data(), fin_mean_.data(), fin_var_.data(), g, dpooled_ln_.data(),
                      dpooled_.data(), dg, db);
        dpool = dpooled_.data();
    }
    // d pool input (B*T, D): into dx directly with fc_norm, else into dfin_ for the final norm's backward.
    float* dsrc = c_.fc_norm ? dx : dfin_.data();
    if (c_.global_pool == GlobalPool::Map) {
        attn_pool_.backward(attn_pool_tensors(p, off_.pool), c_.fc_norm ? x : fin_.data(), dpool, dsrc,
                            attn_pool_tensors(grads, off_.pool), rule);
    } else {
        // The mean hands each patch token 1/P of its gradient; TokenAvg's class half goes to the class
        // token's row unchanged; the other prefix tokens (registers) get none.
        const float inv_p = 1.0f / static_cast<float>(P_);
        std::fill(dsrc, dsrc + M_ * D_, 0.0f);
        for (int64_t b = 0; b < B_; ++b) {
            const float* drow = dpool + b * F_;
            if (c_.global_pool == GlobalPool::TokenAvg) std::copy_n(drow, D_, dsrc + b * T_ * D_);
            const float* davg = drow + F_ - D_;
            for (int64_t t = prefix_; t < T_; ++t)
                for (int64_t j = 0; j < D_; ++j) dsrc[(b * T_ + t) * D_ + j] = davg[j] * inv_p;
        }
    }
    if (!c_.fc_norm)
        norm_backward(rule, ln_tokens_, x, fin_mean_.data(), fin_var_.data(), g, dfin_.data(), dx, dg, db);
}

void Network::backward(const Parameters& p, const float* dlogits, Parameters& grads, BackwardRule rule) {
    if (!modes_.training) throw ConfigError("backward needs a network planned for training");
    if (rule == BackwardRule::AttnLrp && mode() == Mode::MixedBf16)
        throw ConfigError("AttnLRP's backward runs in f32 only, not in mixed-precision bf16");
    if (K_ == 0) throw ConfigError("backward needs a classifier head (the model has num_classes 0)");
    if (R_ == 2) {  // logits = (head + head_dist) / 2: each head sees half the gradient
        for (int64_t i = 0; i < B_ * K_; ++i) dhalf_[size_t(i)] = 0.5f * dlogits[i];
        head_.backward(pooled_ln_.data(), at(p, off_.head_w), dhalf_.data(), dpooled_ln_.data(), at(grads, off_.head_w),
                       at(grads, off_.head_b));
        head_dist_.backward(pooled_ln_.data() + B_ * D_, at(p, off_.head_dist_w), dhalf_.data(),
                            dpooled_ln_.data() + B_ * D_, at(grads, off_.head_dist_w), at(grads, off_.head_dist_b));
    } else {
        head_.backward(pooled_ln_.data(), at(p, off_.head_w), dlogits, dpooled_ln_.data(), at(grads, off_.head_w),
                       at(grads, off_.head_b));
    }
    if (modes_.trainable.head_only) return;  // a linear probe: nothing below the head learns
    head_dropout(dpooled_ln_.data());
    float* dx = dx_.data();  // gradient of the residual stream, walking back through the blocks
    pool_backward(p, grads, dx, rule);

    const int64_t MD = M_ * D_;
    const int lowest = modes_.trainable.frozen_blocks;  // blocks below it and the embedding are frozen
    for (int i = c_.depth - 1; i >= lowest; --i) {
        const BlockParams& o = off_.blocks[size_t(i)];
        const float *x_in = stream(2 * i), *x_mid = stream(2 * i + 1);
        const float* scale_attn = drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i) * B_;
        const float* scale_mlp = drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i + 1) * B_;
        // MLP: x_out = x_mid + ls2 ⊙ fc2(act(fc1(norm2(x_mid))))
        // With dropout, drop-path or LayerScale the branch sees the residual gradient through them.
        const float* d_mlp = modes_.branched ? branch_grad(dx, scale_mlp, at(p, o.ls2), branch(2 * i + 1), at(grads, o.ls2),
                                                     key(Site::Mlp, i))
                                       : dx;
        // The Linears' saved inputs and weights: f32, or bf16 in mixed precision.
        const BlockOperands op = operands(i);
        const void *h_in = op.hidden_in, *ln2_in = op.ln2, *ctx_in = op.ctx, *ln1_in = op.ln1;
        fc2_.backward(h_in, weight(p, o.fc2_w, i, &PackedBlock::fc2), d_mlp, dh_.data(), at(grads, o.fc2_w),
                      at(grads, o.fc2_b));
        drop_.apply(dh_.data(), dh_.data(), M_ * Hm_, key(Site::Hidden, i), mask_first(T_ * Hm_));
        if (rule == BackwardRule::AttnLrp)
            layers::Gelu::identity_rule(at(hpre_, i, M_ * Hm_, true), at(hact_, i, M_ * Hm_, true), dh_.data(),
                                        dpre_.data(), M_ * Hm_);
        else
            gelu_.backward(at(hpre_, i, M_ * Hm_, true), dh_.data(), dpre_.data());
        fc1_.backward(ln2_in, weight(p, o.fc1_w, i, &PackedBlock::fc1), dpre_.data(), dctx_.data(),
                      at(grads, o.fc1_w), at(grads, o.fc1_b));
        norm_backward(rule, ln_tokens_, x_mid, at(mean2_, i, M_, true), at(var2_, i, M_, true), at(p, o.norm2_w),
                      dctx_.data(), dtmp_.data(), at(grads, o.norm2_w), at(grads, o.norm2_b));
        add_into(dx, dtmp_.data(), MD);  // now d x_mid
        // Attention: x_mid = x_in + ls1 ⊙ proj(attn(qkv(norm1(x_in))))
        const void* qkv = op.qkv;
        const float* d_attn = modes_.branched ? branch_grad(dx, scale_attn, at(p, o.ls1), branch(2 * i), at(grads, o.ls1),
                                                      key(Site::Proj, i))
                                        : dx;
        proj_.backward(ctx_in, weight(p, o.proj_w, i, &PackedBlock::proj), d_attn, dctx_.data(), at(grads, o.proj_w),
                       at(grads, o.proj_b));
        const int64_t BHTT = B_ * H_ * T_ * T_;
        float* datt = modes_.keep_attention_grad ? at(datt_all_, i, BHTT, true) : datt_.data();
        attn_.backward(qkv, at(att_, i, BHTT, true), dctx_.data(), datt, datt_.data(), dqkv_.data(),
                       key(Site::Attention, i), att_drop_.data());
        if (rule == BackwardRule::AttnLrp) {  // the uniform rule: a quarter of dQ and dK, half of dV
#pragma omp parallel for
            for (int64_t r = 0; r < M_; ++r) {
                float* row = dqkv_.data() + r * 3 * D_;
                for (int64_t j = 0; j < 3 * D_; ++j) row[j] *= j < 2 * D_ ? 0.25f : 0.5f;
            }
        }
        qkv_l_.backward(ln1_in, weight(p, o.qkv_w, i, &PackedBlock::qkv), dqkv_.data(), dctx_.data(),
                        at(grads, o.qkv_w), at(grads, o.qkv_b));
        norm_backward(rule, ln_tokens_, x_in, at(mean1_, i, M_, true), at(var1_, i, M_, true), at(p, o.norm1_w),
                      dctx_.data(), dtmp_.data(), at(grads, o.norm1_w), at(grads, o.norm1_b));
        add_into(dx, dtmp_.data(), MD);  // now d x_in
    }
    if (lowest > 0) return;
    if (c_.pre_norm) {  // x_in of block 0 = norm_pre(emb)
        norm_backward(rule, ln_tokens_, emb_.data(), emb_mean_.data(), emb_var_.data(), at(p, off_.norm_pre_w), dx,
                      dtmp_.data(), at(grads, off_.norm_pre_w), at(grads, off_.norm_pre_b));
        std::copy_n(dtmp_.data(), MD, dx);
    }
    embed_backward(grads, dx);
    patch_.backward(patches_.data(), at(p, off_.patch_w), dtokens_.data(), nullptr, at(grads, off_.patch_w),
                    at(grads, off_.patch_b));
}

// Mirror of embed_forward (before norm_pre): dx (B*T, D) -> the prefix tokens' and the position
// embedding's gradients (accumulated) and dtokens_ (B*P, D), the patch embedding's output gradient.
void Network::embed_backward(Parameters& grads, float* dx) {
    drop_.apply(dx, dx, M_ * D_, key(Site::Pos, 0), mask_first(T_ * D_));
    float* dpos = at(grads, off_.pos);
    const int64_t pos_first = c_.no_embed_class ? prefix_ : 0;
    for (int64_t b = 0; b < B_; ++b)
        for (int64_t t = 0; t < T_; ++t) {
            const float* src = dx + (b * T_ + t) * D_;
            if (t >= pos_first) {
                float* dpe = dpos + (t - pos_first) * D_;
                for (int64_t j = 0; j < D_; ++j) dpe[j] += src[j];
            }
            if (t >= prefix_) {
                std::copy_n(src, D_, dtokens_.data() + (b * P_ + t - prefix_) * D_);
                continue;
            }
            float* dtok = at(grads, prefix_offset(t));
            for (int64_t j = 0; j < D_; ++j) dtok[j] += src[j];
        }
}

const float* Network::branch_grad(const float* dy, const float* scale, const float* gamma, const float* br,
                                  float* dgamma, uint64_t key) {
    const int64_t TD = T_ * D_;
    if (dgamma)  // dgamma_j = Σ_{b,t} scale_b dy_{b,t,j} branch_{b,t,j}, summed serially per channel
        for (int64_t b = 0; b < B_; ++b) {
            const float s = scale ? scale[b] : 1.0f;
            for (int64_t t = 0; t < T_; ++t)
                for (int64_t j = 0; j < D_; ++j) dgamma[j] += s * dy[b * TD + t * D_ + j] * br[b * TD + t * D_ + j];
        }
#pragma omp parallel for
    for (int64_t b = 0; b < B_; ++b) {
        const float s = scale ? scale[b] : 1.0f;
        for (int64_t t = 0; t < T_; ++t) {
            const int64_t row = b * TD + t * D_;
            for (int64_t j = 0; j < D_; ++j) dbranch_[size_t(row + j)] = s * (gamma ? gamma[j] : 1.0f) * dy[row + j];
        }
    }
    drop_.apply(dbranch_.data(), dbranch_.data(), M_ * D_, key, mask_first(T_ * D_));
    return dbranch_.data();
}

}  // namespace vit
