// Multi-head scaled dot-product attention on a fused qkv buffer (the core between the qkv and the
// output projections):
//   qkv (B*T, 3D), rows ordered (q|k|v, head, channel) as timm's qkv Linear
//   A   (B, H, T, T) = softmax(Q Kᵀ / √hd)        per head
//   ctx (B*T, D)     = A V, heads side by side
// Backward, with S = Q Kᵀ / √hd:
//   dA = dctx Vᵀ,  dV = Aᵀ dctx,  dS = softmax_backward(A, dA),  dQ = dS K / √hd,  dK = dSᵀ Q / √hd
// Every product reads Q, K, V and the gradients through strided views of the (B*T, 3D) buffers.
#pragma once
#include "vit/layers/matmul.hpp"
#include "vit/layers/softmax.hpp"

namespace vit::layers {

class Attention {
public:
    Attention() = default;
    Attention(int64_t batch, int64_t tokens, int64_t dim, int64_t heads, bool backward = false);

    // qkv (B*T, 3D) -> att (B, H, T, T), ctx (B*T, D)
    void forward(const float* qkv, float* att, float* ctx);
    // dctx (B*T, D) -> dqkv (B*T, 3D) written. datt receives dA and dscores dS, both (B, H, T, T);
    // they may be the same buffer when dA is not wanted.
    void backward(const float* qkv, const float* att, const float* dctx, float* datt, float* dscores, float* dqkv);

private:
    int64_t D_ = 0;
    Matmul qk_, av_, d_att_, d_v_, d_q_, d_k_;
    Softmax softmax_;
};

}  // namespace vit::layers
