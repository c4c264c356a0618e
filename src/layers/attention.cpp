#include "vit/layers/attention.hpp"

#include <cmath>

namespace vit::layers {

Attention::Attention(int64_t B, int64_t T, int64_t D, int64_t H, bool backward) : D_(D) {
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

void Attention::forward(const float* qkv, float* att, float* ctx) {
    qk_.run(qkv, qkv + D_, nullptr, att);
    softmax_.forward(att, att);
    av_.run(att, qkv + 2 * D_, nullptr, ctx);
}

void Attention::backward(const float* qkv, const float* att, const float* dctx, float* datt, float* dscores,
                         float* dqkv) {
    d_att_.run(dctx, qkv + 2 * D_, nullptr, datt);
    d_v_.run(att, dctx, nullptr, dqkv + 2 * D_);
    softmax_.backward(att, datt, dscores);
    d_q_.run(dscores, qkv + D_, nullptr, dqkv);
    d_k_.run(dscores, qkv, nullptr, dqkv + D_);
}

}  // namespace vit::layers
