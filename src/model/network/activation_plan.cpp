#include "model/network/activation_plan.hpp"

#include <algorithm>
#include <cstdint>

#include "vit/model/model.hpp"
#include "vit/util/cpu_support.hpp"

namespace vit {

Precision Precision::choose(Dtype dtype, bool training) {
    switch (dtype) {
    case Dtype::F32: return {Mode::F32, Dtype::F32};
    case Dtype::BF16: return {training ? Mode::MixedBf16 : Mode::Bf16, Dtype::BF16};
    case Dtype::Int8: return {Mode::Int8, cpu_support().int8_attention};
    }
    return {};
}

ActivationPlan plan_activations(const ViTConfig& cfg, int batch, const NetworkModes& m) {
    using Mode = Precision::Mode;
    const Mode mode = m.precision.mode;
    const double B = batch, P = cfg.num_patches(), T = cfg.num_tokens(), D = cfg.embed_dim, H = cfg.num_heads,
                 Hm = cfg.mlp_hidden(), K = cfg.num_classes, depth = cfg.depth, R = cfg.distilled ? 2 : 1,
                 F = cfg.num_features();
    const double M = B * T, MD = M * D, BHTT = B * H * T * T;
    const double L = m.training ? depth : 1;  // blocks whose activations are kept
    ActivationPlan a;
    a.patches = B * P * double(cfg.in_chans) * cfg.patch_size * cfg.patch_size;
    a.tokens = B * P * D;
    a.emb = cfg.pre_norm ? MD : 0;
    a.stream = (m.training ? 2 * depth + 1 : 1) * MD;
    // bf16 attention without kept maps uses the attention's own scratch.
    if (m.precision.attention != Dtype::BF16 || m.keep_attention) a.attention = (m.keep_attention ? depth : 1) * BHTT;
    switch (mode) {
    case Mode::F32:
        a.ln = L * MD;
        a.qkv = L * 3 * MD;
        a.ctx = L * MD;
        a.hidden = L * M * Hm;
        break;
    case Mode::Bf16:
        a.ln16 = MD;
        a.qkv16 = 3 * MD;
        a.ctx16 = MD;
        a.hidden16 = M * Hm;
        break;
    case Mode::MixedBf16:
        a.ln16 = 2 * L * MD;
        a.qkv16 = L * 3 * MD;
        a.ctx16 = L * MD;
        a.hidden16 = L * M * Hm;
        a.hidden = M * Hm;
        a.params16 = double(param_layout(cfg).size);
        break;
    case Mode::Int8:
        if (m.precision.attention == Dtype::BF16) {
            a.qkv16 = 3 * MD;
            a.ctx16 = MD;
        } else {
            a.qkv = 3 * MD;
            a.ctx = MD;
        }
        a.quantized = MD + M * Hm;
        a.products = M * std::max(3 * D, Hm);
        break;
    }
    a.pooled = R * B * D;
    a.pooled_norm = R * B * F;
    a.logits = B * K;
    a.logits_dist = cfg.distilled ? B * K : 0;
    a.features = K == 0 && cfg.distilled ? B * D : 0;
    const bool norm_all = !cfg.fc_norm && cfg.global_pool != GlobalPool::Token;  // the final norm on every token
    a.final_norm = norm_all ? MD : 0;
    if (m.branched) a.branch = (m.per_branch ? 2 * depth : 1) * MD;
    if (m.training) {
        a.norm_stats = L * M;
        a.emb_stats = cfg.pre_norm ? M : 0;
        a.final_stats = M;
        a.hidden_pre = L * M * Hm;
        a.d_rows = MD;
        a.d_qkv = 3 * MD;
        a.d_attention = BHTT;
        a.d_attention_kept = m.keep_attention_grad ? depth * BHTT : 0;
        if (m.branched) {
            a.d_branch = MD;
            a.drop_scale = depth * 2 * B;
        }
        a.attention_dropped = m.reg.attn_drop > 0 ? BHTT : 0;
        a.d_hidden = M * Hm;
        a.d_pooled = R * B * D;
        a.d_pooled_norm = R * B * F;
        a.d_half = B * K;
        a.d_tokens = B * P * D;
        a.d_final_norm = a.final_norm;
    }
    return a;
}

double ActivationPlan::f32_count() const {
    return patches + tokens + emb + stream + 2 * ln + qkv + attention + ctx + hidden_pre + hidden + final_norm +
           pooled + pooled_norm + logits + logits_dist + features + branch + 4 * norm_stats + 2 * emb_stats +
           2 * final_stats + 3 * d_rows + d_qkv + d_attention + d_attention_kept + d_branch + drop_scale +
           attention_dropped + 2 * d_hidden + d_pooled + d_pooled_norm + d_half + d_tokens + d_final_norm;
}

double ActivationPlan::bytes() const {
    const double bf16 = ln16 + qkv16 + ctx16 + hidden16 + params16;
    return f32_count() * sizeof(float) + bf16 * sizeof(std::uint16_t) + quantized + products * sizeof(std::int32_t);
}

}  // namespace vit
