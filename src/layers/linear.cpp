#include "vit/layers/linear.hpp"

namespace vit::layers {

Linear::Linear(int64_t rows, int64_t in, int64_t out, bool bias, Epilogue ep, bool backward, Activation act,
               LinearTypes types)
    : w_{{in, out}, {1, in}} {  // W (out, in) row-major read as the (in, out) right operand: strides (1, in)
    const dt in_type = types.x;
    const bool packed = in_type != dt::f32 && !backward;  // training reads the caller's row-major copy
    fwd_ = Matmul({{rows, in}, {}, in_type}, {w_.shape, w_.strides, in_type}, {{rows, out}, {}, types.y}, bias, ep,
                  1.0f, act, packed);
    if (!backward) return;
    bwd_data_ = Matmul({{rows, out}, {}, in_type}, {{out, in}, {}, in_type}, {{rows, in}, {}}, false);
    // dyᵀ (out, M) is dy (M, out) read with strides (1, out).
    bwd_weights_ = Matmul({{out, rows}, {1, out}, in_type}, {{rows, in}, {}, in_type}, {{out, in}, {}}, false,
                          Epilogue::Accumulate);
    if (in_type == dt::bf16) {
        dy16_.resize(static_cast<size_t>(rows * out));
        dy_to_bf16_ = Convert(rows * out, dt::f32, dt::bf16);
    }
    if (bias) {
        bwd_bias_ = Matmul({{1, rows}, {}}, {{rows, out}, {}}, {{1, out}, {}}, false, Epilogue::Accumulate);
        ones_.assign(static_cast<size_t>(rows), 1.0f);
    }
}

void Linear::forward(const void* x, const void* w, const float* b, void* y) { fwd_.run(x, w, b, y); }

dnnl::memory Linear::pack(const float* w) const { return fwd_.pack(w, w_); }

void Linear::backward(const void* x, const void* w, const float* dy, float* dx, float* dw, float* db) {
    const void* dy_in = dy;
    if (!dy16_.empty()) {
        dy_to_bf16_.run(dy, dy16_.data());
        dy_in = dy16_.data();
    }
    if (dx) bwd_data_.run(dy_in, w, nullptr, dx);
    bwd_weights_.run(dy_in, x, nullptr, dw);
    if (db) bwd_bias_.run(ones_.data(), dy, nullptr, db);
}

}  // namespace vit::layers
