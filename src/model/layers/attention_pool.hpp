// timm's AttentionPoolLatent (global_pool "map", SigLIP): one learned query attends over the tokens,
// then a projection and a residual MLP, giving one pooled vector per image.
//   q   (1, D)      = latent · Wqᵀ + bq                     (the same query for every image)
//   kv  (B*T, 2D)   = x · Wkvᵀ + bkv, rows (k|v, head, channel)
//   a   (B, H, N)   = softmax_n(q_h · k_{b,n,h} / √hd)       over the N = T - skip pooled tokens
//   o   (B, D)      = Σ_n a_{b,h,n} v_{b,n,h}, heads side by side
//   y0  (B, D)      = o · Wprojᵀ + bproj
//   y   (B, D)      = y0 + fc2(act(fc1(norm(y0))))
// Backward follows the same lines in reverse; parameter gradients accumulate, dx is written. Under
// BackwardRule::AttnLrp it propagates AttnLRP's relevance instead (backward_rule.hpp): the norm's scale
// held, the activation's identity rule, and half of dK and dV.
#pragma once
#include <vector>

#include "model/layers/backward_rule.hpp"
#include "model/layers/gelu.hpp"
#include "model/layers/layernorm.hpp"
#include "model/layers/linear.hpp"

namespace vit::layers {

class AttentionPool {
public:
    // The parameters (Params) or their gradients (Grads), each a pointer into a flat buffer.
    template <class F>
    struct Tensors {
        F *latent, *q_w, *q_b, *kv_w, *kv_b, *proj_w, *proj_b, *norm_w, *norm_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    };
    using Params = Tensors<const float>;
    using Grads = Tensors<float>;

    AttentionPool() = default;
    // skip: leading tokens of each image left out of the pool (timm pools the patches, not the prefix).
    AttentionPool(int64_t batch, int64_t tokens, int64_t skip, int64_t dim, int64_t heads, int64_t hidden, float eps,
                  Activation act, bool backward);
    // x (B*T, D) -> y (B, D)
    void forward(const Params& p, const float* x, float* y);
    // dy (B, D) -> dx (B*T, D) written (zero on skipped rows); gradients accumulated into g.
    void backward(const Params& p, const float* x, const float* dy, float* dx, const Grads& g,
                  BackwardRule rule = BackwardRule::Gradient);
    // (B, H, N) attention of the query over the pooled tokens, from the last forward.
    const float* attention() const { return att_.data(); }
    // The last forward's intermediate values, for relevance passes (chefer_lrp.cpp): the query (D),
    // kv (B*T, 2D), a (B, H, N), o, y0 and norm(y0) (B, D), and the activated hidden layer (B, Hm; after
    // a forward planned with backward).
    struct Activations {
        const float *q, *kv, *att, *o, *y0, *ln, *h;
    };
    Activations activations() const {
        return {q_out_.data(), kv_out_.data(), att_.data(), o_.data(), y0_.data(), ln_.data(), h_.data()};
    }

private:
    int64_t B_ = 0, T_ = 0, S_ = 0, D_ = 0, H_ = 0, Hm_ = 0;
    bool training_ = false;
    Linear q_, kv_, proj_, fc1_, fc2_;
    LayerNorm norm_;
    Gelu act_;
    std::vector<float> q_out_;       // (1, D) the projected query
    std::vector<float> kv_out_;      // (B*T, 2D)
    std::vector<float> att_;         // (B, H, N)
    std::vector<float> o_, y0_, ln_;  // (B, D) each
    std::vector<float> mean_, var_;  // (B) norm statistics (training)
    std::vector<float> hpre_, h_;    // (B, Hm) fc1 output before and after the activation
    // Gradient scratch.
    std::vector<float> dy0_, dln_, dh_, dhpre_, do_, dq_, dlatent_, dkv_, datt_;
};

}  // namespace vit::layers
