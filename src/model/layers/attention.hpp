// Multi-head scaled dot-product attention on a fused qkv buffer (the core between the qkv and the
// output projections):
//   qkv (B*T, 3D), rows ordered (q|k|v, head, channel) as timm's qkv Linear
//   A   (B, H, T, T) = softmax(Q Kᵀ / √hd)        per head
//   ctx (B*T, D)     = A' V, heads side by side, A' = dropout(A) (timm's attn_drop; A' = A without)
// Backward, with S = Q Kᵀ / √hd:
//   dA' = dctx Vᵀ,  dV = A'ᵀ dctx,  dA = dropout(dA'),  dS = softmax_backward(A, dA),
//   dQ = dS K / √hd,  dK = dSᵀ Q / √hd
// Every product reads Q, K, V and the gradients through strided views of the (B*T, 3D) buffers.
// In bf16 qkv and ctx are bf16: Q Kᵀ accumulates in f32 into f32 scores, the softmax runs in f32 and A
// is rounded to bf16 for the A V product. When the caller keeps A (attention maps, training) it gets A
// in f32, then rounded; otherwise the softmax writes bf16 straight from scratch scores. The bf16
// backward (mixed-precision training) rounds dctx, A' and dS once each and runs the four products on
// bf16 operands into f32 gradients; dA, dS and the softmax backward stay f32.
#pragma once
#include <vector>

#include "model/layers/convert.hpp"
#include "model/layers/dropout.hpp"
#include "model/layers/matmul.hpp"
#include "model/layers/softmax.hpp"

namespace vit::layers {

class Attention {
public:
    Attention() = default;
    // attn_drop (training only): dropout rate on the attention probabilities.
    // type: the number format of qkv and ctx, f32 or bf16.
    // first_image: the batch's first image in a larger global batch that other processes share (its
    // dropout masks are that batch's rows from first_image on).
    Attention(int64_t batch, int64_t tokens, int64_t dim, int64_t heads, bool backward = false, float attn_drop = 0.0f,
              dt type = dt::f32, int64_t first_image = 0);

    // qkv (B*T, 3D) -> att (B, H, T, T) = A, ctx (B*T, D). With attention dropout, A' is drawn from key
    // into dropped (B, H, T, T); att keeps A (the softmax backward and attention maps need it).
    // qkv and ctx are of the planned type; att is f32, and in bf16 may be null (A not kept).
    void forward(const void* qkv, float* att, void* ctx, uint64_t key = 0, float* dropped = nullptr);
    // dctx (B*T, D) f32 -> dqkv (B*T, 3D) f32 written; qkv as the forward read it, of the planned type.
    // datt receives dA and dscores dS, both (B, H, T, T) f32;
    // they may be the same buffer when dA is not wanted. key and dropped as in the forward (A' is
    // drawn again rather than kept per block).
    void backward(const void* qkv, const float* att, const float* dctx, float* datt, float* dscores, float* dqkv,
                  uint64_t key = 0, float* dropped = nullptr);

private:
    const float* drop(const float* att, uint64_t key, float* dropped) const;

    int64_t D_ = 0, BHTT_ = 0;
    int64_t mask_first_ = 0;  // first_image * H * T * T: the dropout mask entry of element 0
    size_t elem_ = sizeof(float);  // bytes per element of qkv and ctx
    // bf16 only, (B, H, T, T): the scores when the caller keeps no A, and A (also dS in the backward)
    // rounded for the products; dctx (B*T, D) rounded.
    std::vector<float> scores_;
    std::vector<Bf16> att16_, dctx16_;
    Convert dctx_to_bf16_;
    Convert to_bf16_;
    Softmax softmax16_;  // scores -> A in bf16
    Matmul qk_, av_, d_att_, d_v_, d_q_, d_k_;
    Softmax softmax_;
    Dropout drop_;
};

}  // namespace vit::layers
