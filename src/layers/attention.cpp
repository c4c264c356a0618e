#include "vit/layers/attention.hpp"

#include <cmath>

#include "vit/error.hpp"

namespace vit::layers {

Attention::Attention(int64_t B, int64_t T, int64_t D, int64_t H, bool backward, float attn_drop)
    : D_(D), BHTT_(B * H * T * T), drop_(backward ? attn_drop : 0.0f) {
    const int64_t hd = D / H, row = 3 * D;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    // Element (b, t, s, h, j) of the qkv buffer, s in {q, k, v}, sits at b*T*3D + t*3D + s*D + h*hd + j.
    const View q{{B, H, T, hd}, {T * row, hd, row, 1}};     // also K and V, offset by D and 2D
    const View kT{{B, H, hd, T}, {T * row, hd, 1, row}};    // Kᵀ
    const View att{{B, H, T, T}, {}};
    const View attT{{B, H, T, T}, {H * T * T, T * T, 1, T}};  // Aᵀ
    const View ctx{{B, H, T, hd}, {T * D, hd, D, 1}};       // heads side by side in (B*T, D)
    qk_ = Matmul(q, kT, att, false, Epilogue::None, scale);
    av_ = Matmul(att, q, ctx, false);
    softmax_ = Softmax({B, H, T, T}, backward);
    if (!backward) return;
    d_att_ = Matmul(ctx, kT, att, false);           // dA = dctx Vᵀ  (Vᵀ has the layout of Kᵀ)
    d_v_ = Matmul(attT, ctx, q, false);             // dV = Aᵀ dctx
    d_q_ = Matmul(att, q, q, false, Epilogue::None, scale);   // dQ = dS K / √hd
    d_k_ = Matmul(attT, q, q, false, Epilogue::None, scale);  // dK = dSᵀ Q / √hd
}

// A' for the A V product: A itself, or its dropout drawn from key into dropped.
const float* Attention::drop(const float* att, uint64_t key, float* dropped) const {
    if (!drop_.active()) return att;
    if (dropped == nullptr) throw ConfigError("attention dropout needs a (B, H, T, T) buffer for the dropped probabilities");
    drop_.apply(att, dropped, BHTT_, key);
    return dropped;
}

void Attention::forward(const float* qkv, float* att, float* ctx, uint64_t key, float* dropped) {
    qk_.run(qkv, qkv + D_, nullptr, att);
    softmax_.forward(att, att);
    av_.run(drop(att, key, dropped), qkv + 2 * D_, nullptr, ctx);
}

void Attention::backward(const float* qkv, const float* att, const float* dctx, float* datt, float* dscores,
                         float* dqkv, uint64_t key, float* dropped) {
    d_att_.run(dctx, qkv + 2 * D_, nullptr, datt);
    d_v_.run(drop(att, key, dropped), dctx, nullptr, dqkv + 2 * D_);
    drop_.apply(datt, datt, BHTT_, key);
    softmax_.backward(att, datt, dscores);
    d_q_.run(dscores, qkv + D_, nullptr, dqkv);
    d_k_.run(dscores, qkv, nullptr, dqkv + D_);
}

}  // namespace vit::layers
