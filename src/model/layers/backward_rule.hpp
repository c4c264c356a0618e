// What a backward pass propagates, for the network and for the layers that compose several steps
// (the attention pool).
#pragma once

namespace vit {

// Gradient: the exact gradient. AttnLrp: AttnLRP's relevance as a modified gradient (Achtibat et al.,
// ICML 2024), so that gradient x input at any layer is that layer's relevance: every LayerNorm's
// normalisation scale held constant, the MLP activation as a constant per-element gain (identity
// rule), and the uniform rule on each product of two input-dependent factors (Q Kᵀ and A V): each
// factor gets half its gradient, so in a block dQ and dK are a quarter of the exact ones and dV a half.
// In the attention pool the query is a parameter, so q Kᵀ is linear in K and only A V is split: dK and
// dV are half the exact ones. The softmax and the Linears (epsilon rule with a vanishing epsilon) keep
// their exact gradients. Parameter gradients are then meaningless.
enum class BackwardRule { Gradient, AttnLrp };

}  // namespace vit
