#include "vit/layers/linear.hpp"

namespace vit::layers {

Linear::Linear(int64_t rows, int64_t in, int64_t out, bool bias, Epilogue ep, bool backward, Activation act,
               LinearTypes types)
    : w_{{in, out}, {1, in}} {  // W (out, in) row-major read as the (in, out) right operand: strides (1, in)
    const bool packed = types.x != dt::f32;
    fwd_ = Matmul({{rows, in}, {}, types.x}, {w_.shape, w_.strides, types.x}, {{rows, out}, {}, types.y}, bias, ep,
                  1.0f, act, packed);
    if (!backward) return;
    bwd_data_ = Matmul({{rows, out}, {}}, {{out, in}, {}}, {{rows, in}, {}}, false);
    // dyᵀ (out, M) is dy (M, out) read with strides (1, out).
    bwd_weights_ = Matmul({{out, rows}, {1, out}}, {{rows, in}, {}}, {{out, in}, {}}, false, Epilogue::Accumulate);
    if (bias) {
        bwd_bias_ = Matmul({{1, rows}, {}}, {{rows, out}, {}}, {{1, out}, {}}, false, Epilogue::Accumulate);
        ones_.assign(static_cast<size_t>(rows), 1.0f);
    }
}

void Linear::forward(const void* x, const void* w, const float* b, void* y) { fwd_.run(x, w, b, y); }

dnnl::memory Linear::pack(const float* w) const { return fwd_.pack(w, w_); }

void Linear::backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db) {
    if (dx) bwd_data_.run(dy, w, nullptr, dx);
    bwd_weights_.run(dy, x, nullptr, dw);
    if (db) bwd_bias_.run(ones_.data(), dy, nullptr, db);
}

}  // namespace vit::layers
