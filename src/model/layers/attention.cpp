#include "model/layers/attention.hpp"

#include <cmath>

#include "vit/util/error.hpp"

namespace vit::layers {

Attention::Attention(int64_t B, int64_t T, int64_t D, int64_t H, bool backward, float attn_drop, dt type,
                     int64_t first_image)
    : D_(D), BHTT_(B * H * T * T), mask_first_(first_image * H * T * T),
      elem_(type == dt::bf16 ? sizeof(Bf16) : sizeof(float)), drop_(backward ? attn_drop : 0.0f) {
    const int64_t hd = D / H, row = 3 * D;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    // Element (b, t, s, h, j) of the qkv buffer, s in {q, k, v}, sits at b*T*3D + t*3D + s*D + h*hd + j.
    const View q{{B, H, T, hd}, {T * row, hd, row, 1}};     // also K and V, offset by D and 2D
    const View kT{{B, H, hd, T}, {T * row, hd, 1, row}};    // Kᵀ
    const View att{{B, H, T, T}, {}};
    const View attT{{B, H, T, T}, {H * T * T, T * T, 1, T}};  // Aᵀ
    const View ctx{{B, H, T, hd}, {T * D, hd, D, 1}};       // heads side by side in (B*T, D)
    softmax_ = Softmax({B, H, T, T}, backward);
    if (type == dt::bf16) {
        // The same views with bf16 operands; products into f32 (scores, gradients) or bf16 (ctx).
        const View q16{q.shape, q.strides, type}, kT16{kT.shape, kT.strides, type}, att16{att.shape, att.strides, type},
            attT16{attT.shape, attT.strides, type}, ctx16{ctx.shape, ctx.strides, type};
        qk_ = Matmul(q16, kT16, att, false, Epilogue::None, scale);
        av_ = Matmul(att16, q16, ctx16, false);
        att16_.resize(static_cast<size_t>(BHTT_));
        to_bf16_ = Convert(BHTT_, dt::f32, dt::bf16);
        if (!backward) {
            scores_.resize(static_cast<size_t>(BHTT_));
            softmax16_ = Softmax({B, H, T, T}, false, dt::bf16);
            return;
        }
        d_att_ = Matmul(ctx16, kT16, att, false);
        d_v_ = Matmul(attT16, ctx16, q, false);
        d_q_ = Matmul(att16, q16, q, false, Epilogue::None, scale);
        d_k_ = Matmul(attT16, q16, q, false, Epilogue::None, scale);
        dctx16_.resize(static_cast<size_t>(B * T * D));
        dctx_to_bf16_ = Convert(B * T * D, dt::f32, dt::bf16);
        return;
    }
    qk_ = Matmul(q, kT, att, false, Epilogue::None, scale);
    av_ = Matmul(att, q, ctx, false);
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
    drop_.apply(att, dropped, BHTT_, key, mask_first_);
    return dropped;
}

void Attention::forward(const void* qkv, float* att, void* ctx, uint64_t key, float* dropped) {
    const auto* bytes = static_cast<const char*>(qkv);  // Q, K and V start D and 2D elements apart
    const size_t d = static_cast<size_t>(D_) * elem_;
    if (!att16_.empty()) {
        if (att) {
            qk_.run(bytes, bytes + d, nullptr, att);
            softmax_.forward(att, att);
            to_bf16_.run(drop(att, key, dropped), att16_.data());
        } else {
            qk_.run(bytes, bytes + d, nullptr, scores_.data());
            softmax16_.forward(scores_.data(), att16_.data());
        }
        av_.run(att16_.data(), bytes + 2 * d, nullptr, ctx);
        return;
    }
    qk_.run(bytes, bytes + d, nullptr, att);
    softmax_.forward(att, att);
    av_.run(drop(att, key, dropped), bytes + 2 * d, nullptr, ctx);
}

void Attention::backward(const void* qkv, const float* att, const float* dctx, float* datt, float* dscores,
                         float* dqkv, uint64_t key, float* dropped) {
    const auto* bytes = static_cast<const char*>(qkv);
    const size_t d = static_cast<size_t>(D_) * elem_;
    if (!dctx16_.empty()) {  // bf16 operands: dctx, A' and dS rounded once each, Q K V as saved
        dctx_to_bf16_.run(dctx, dctx16_.data());
        d_att_.run(dctx16_.data(), bytes + 2 * d, nullptr, datt);
        to_bf16_.run(drop(att, key, dropped), att16_.data());
        d_v_.run(att16_.data(), dctx16_.data(), nullptr, dqkv + 2 * D_);
        drop_.apply(datt, datt, BHTT_, key);
        softmax_.backward(att, datt, dscores);
        to_bf16_.run(dscores, att16_.data());
        d_q_.run(att16_.data(), bytes + d, nullptr, dqkv);
        d_k_.run(att16_.data(), bytes, nullptr, dqkv + D_);
        return;
    }
    const auto* f = static_cast<const float*>(qkv);
    d_att_.run(dctx, f + 2 * D_, nullptr, datt);
    d_v_.run(drop(att, key, dropped), dctx, nullptr, dqkv + 2 * D_);
    drop_.apply(datt, datt, BHTT_, key, mask_first_);
    softmax_.backward(att, datt, dscores);
    d_q_.run(dscores, f + D_, nullptr, dqkv);
    d_k_.run(dscores, f, nullptr, dqkv + D_);
}

}  // namespace vit::layers
