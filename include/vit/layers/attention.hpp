// Multi-head scaled dot-product attention on a fused qkv buffer (the core between the qkv and the
// output projections):
//   qkv (B*T, 3D), rows ordered (q|k|v, head, channel) as timm's qkv Linear
//   A   (B, H, T, T) = softmax(Q Kᵀ / √hd)        per head
//   ctx (B*T, D)     = A' V, heads side by side, A' = dropout(A) (timm's attn_drop; A' = A without)
// Backward, with S = Q Kᵀ / √hd:
//   dA' = dctx Vᵀ,  dV = A'ᵀ dctx,  dA = dropout(dA'),  dS = softmax_backward(A, dA),
//   dQ = dS K / √hd,  dK = dSᵀ Q / √hd
// Every product reads Q, K, V and the gradients through strided views of the (B*T, 3D) buffers.
#pragma once
#include "vit/layers/dropout.hpp"
#include "vit/layers/matmul.hpp"
#include "vit/layers/softmax.hpp"

namespace vit::layers {

class Attention {
public:
    Attention() = default;
    // attn_drop (training only): dropout rate on the attention probabilities.
    Attention(int64_t batch, int64_t tokens, int64_t dim, int64_t heads, bool backward = false, float attn_drop = 0.0f);

    // qkv (B*T, 3D) -> att (B, H, T, T) = A, ctx (B*T, D). With attention dropout, A' is drawn from key
    // into dropped (B, H, T, T); att keeps A (the softmax backward and attention maps need it).
    void forward(const float* qkv, float* att, float* ctx, uint64_t key = 0, float* dropped = nullptr);
    // dctx (B*T, D) -> dqkv (B*T, 3D) written. datt receives dA and dscores dS, both (B, H, T, T);
    // they may be the same buffer when dA is not wanted. key and dropped as in the forward (A' is
    // drawn again rather than kept per block).
    void backward(const float* qkv, const float* att, const float* dctx, float* datt, float* dscores, float* dqkv,
                  uint64_t key = 0, float* dropped = nullptr);

private:
    const float* drop(const float* att, uint64_t key, float* dropped) const;

    int64_t D_ = 0, BHTT_ = 0;
    Matmul qk_, av_, d_att_, d_v_, d_q_, d_k_;
    Softmax softmax_;
    Dropout drop_;
};

}  // namespace vit::layers
