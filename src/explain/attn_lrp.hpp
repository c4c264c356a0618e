// AttnLRP (Achtibat et al., ICML 2024, "AttnLRP: Attention-Aware Layer-wise Relevance Propagation for
// Transformers") for a ViT classifier: the relevance of the class logit, per patch token at the input
// embeddings (patch embedding plus position embedding), from one forward and one modified backward pass.
//
// LRP rules, each written as "relevance = input x modified gradient" so that one backward pass carries
// them all (Network's BackwardRule::AttnLrp):
//   Linear      epsilon rule, R_i = Σ_j x_i w_ji R_j / z_j -> the exact gradient (epsilon -> 0; the
//               bias keeps its share)
//   LayerNorm   identity rule on the normalisation: 1/std held constant, the rest is linear
//   GELU        identity rule, R_in = R_out: the gradient is y / x
//   Q Kᵀ, A V   uniform rule for a bilinear product: each operand gets half the relevance, i.e. half the
//               gradient (a quarter for Q and K, which pass both products)
//   softmax     R_i = x_i (R_i - s_i Σ_j R_j) with x the scores: exactly gradient x input
//   residual    the sum rule, exactly gradient x input
//   attention pool (global_pool map): its query is a parameter, so q Kᵀ is linear in K and only A V
//               is split: half the gradient for K and V (BackwardRule in layers/backward_rule.hpp)
// The map is R_t = Σ_d e_{t,d} · g_{t,d} over the patch tokens t, e the input embedding and g the
// modified gradient there.
#pragma once
#include <vector>

#include "model/network/network.hpp"

namespace vit {

class AttnLrp {
public:
    AttnLrp(const Model& model, int batch);
    // x (n, C, H, W) normalised, n <= batch; one class per image -> (n, patches).
    Tensor map(const float* x, int n, const std::vector<int>& classes);

private:
    const Model& model_;
    Network net_;
    Parameters grads_;  // the backward's parameter gradients, unused
    std::vector<float> dlogits_;
};

}  // namespace vit
