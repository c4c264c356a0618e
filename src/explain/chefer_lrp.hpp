// Chefer et al., CVPR 2021 ("Transformer Interpretability Beyond Attention Visualization"): the LRP
// relevance of every block's attention map, with the rules of the authors' code
// (hila-chefer/Transformer-Explainability, baselines/ViT), propagated from a one-hot relevance at the
// explained logit down to the first block:
//   Linear (qkv, proj, fc1, fc2, heads)  alpha-beta with alpha = 1, beta = 0: Z = x⁺ W⁺ᵀ + x⁻ W⁻ᵀ (no
//                      bias), R_in = x⁺ ⊙ (S W⁺) + x⁻ ⊙ (S W⁻), S = R / Z
//   LayerNorm, GELU, softmax   relevance passes unchanged (their RelProp base class)
//   residual add y = a + b   R_a = a ⊙ (R / y), R_b = b ⊙ (R / y), each then rescaled so that its
//                      image-wide sum is ΣR · |Σ R_a| / (|Σ R_a| + |Σ R_b|) (and likewise for b)
//   A V                R_A = A ⊙ ((R / Z) Vᵀ) / 2, R_V = V ⊙ (Aᵀ (R / Z)) / 2, Z = A V
//   Q Kᵀ               the softmax's input relevance (= R_A) with Z = Q Kᵀ unscaled: R_Q = Q ⊙ ((R / Z) K) / 2,
//                      R_K = K ⊙ ((R / Z)ᵀ Q) / 2
//   mean pooling       (not in their ViT, which pools the class token) the gradient rule,
//                      R_t = x_t ⊙ (R / mean) / P
//   attention pool     (not in their ViT either; SigLIP's global_pool map) the same rules applied to
//                      its parts: y = y0 + fc2(GELU(fc1(norm(y0)))) by the add rule and alpha-beta, y0
//                      = proj(o) by alpha-beta, o = A V as above, and q Kᵀ as above with the query's
//                      half dropped (the query is a parameter, not an input), then kv by alpha-beta
//   copies (the residual fork, LayerScale, token selection)   relevance passes through or adds up
// Every division is the code's safe_divide: 0 where the denominator is 0, else a / (b + 1e-9). The
// sums of the add rule are per image (the code explains one image at a time).
// The relevance of block i's attention, R_A (after the halving), times its gradient d logit_c / dA,
// is what saliency.cpp rolls out (chefer_relevance).
#pragma once
#include <vector>

#include "model/network/network.hpp"

namespace vit {

// LRP's alpha-beta rule (alpha 1, beta 0) for y = x Wᵀ + b over `rows` rows, W (out, in): the
// positive and negative products as one product of twice the width, [x⁺ x⁻] [W⁺ W⁻]ᵀ, and back.
class AlphaBetaLinear {
public:
    AlphaBetaLinear() = default;
    AlphaBetaLinear(int64_t rows, int64_t in, int64_t out);
    // [W⁺ W⁻] (out, 2 in) of a weight w (out, in), made once per model.
    std::vector<float> split(const float* w) const;
    // x (rows, in), r_out (rows, out) -> r_in (rows, in), written.
    void relprop(const float* x, const std::vector<float>& split_w, const float* r_out, float* r_in);

private:
    int64_t rows_ = 0, in_ = 0, out_ = 0;
    layers::Matmul z_, c_;
    std::vector<float> x2_, z_buf_, c_buf_;
};

class CheferLrp {
public:
    CheferLrp(const Model& model, int batch);
    // x (n, C, H, W) normalised, n <= batch, one class per image. Returns depth (n, heads, T, T)
    // tensors each: the attention relevance R_A of every block and d logit_c / dA.
    void run(const float* x, int n, const std::vector<int>& classes, std::vector<Tensor>& relevance,
             std::vector<Tensor>& grad);

private:
    // The residual add z = a + b over `images` chunks of `size` elements: r -> r_a, r_b.
    static void add_relprop(const float* a, const float* z, const float* r, float* r_a, float* r_b, int64_t images,
                            int64_t size);
    // Pooling and final norm: r_pooled (R*B, F) at the classifier's input -> r_ (B*T, D).
    void pool_relprop(const float* r_pooled);
    // The attention pool's part of it: r_pooled (B, D) -> r_ (B*T, D).
    void attention_pool_relprop(const float* r_pooled);
    // Block i's attention: r_ctx (B*T, D) -> R_A into relevance (its first n images), r_qkv_ (B*T, 3D).
    void attention_relprop(int block, const float* r_ctx, int n, Tensor& relevance);

    const Model& model_;
    Network net_;
    Parameters grads_;  // the backward's parameter gradients, unused
    std::vector<float> dlogits_;
    AlphaBetaLinear qkv_, proj_, fc1_, fc2_, head_, head_dist_;
    struct BlockWeights {
        std::vector<float> qkv, proj, fc1, fc2;  // split weights
    };
    std::vector<BlockWeights> blocks_;
    // The attention pool (global_pool map): its Linears and their split weights; relevance at its
    // hidden layer, norm and attention output (B, Hm), (B, D), and at kv (B*T, 2D).
    AlphaBetaLinear pool_kv_, pool_proj_, pool_fc1_, pool_fc2_;
    BlockWeights pool_w_;
    std::vector<float> r_pool_h_, r_pool_a_, r_pool_b_, r_pool_kv_;
    std::vector<float> head_w_, head_dist_w_;
    // Relevance buffers: residual stream and branch (B*T, D), attention output, qkv, MLP hidden; the
    // pooled rows and the logits (two heads when distilled); the first head's share of the logits.
    std::vector<float> r_, r_a_, r_b_, r_ctx_, r_qkv_, r_h_, r_pooled_, r_logits_, half_logits_;
};

}  // namespace vit
