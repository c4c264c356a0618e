#include "vit/layers/linear.hpp"

namespace vit::layers {

Linear::Linear(int64_t rows, int64_t in, int64_t out, bool bias, Epilogue ep, bool backward, Activation act) {
    // W (out, in) row-major read as the (in, out) right operand: strides (1, in).
    fwd_ = Matmul({{rows, in}, {}}, {{in, out}, {1, in}}, {{rows, out}, {}}, bias, ep, 1.0f, act);
    if (!backward) return;
    bwd_data_ = Matmul({{rows, out}, {}}, {{out, in}, {}}, {{rows, in}, {}}, false);
    // dyᵀ (out, M) is dy (M, out) read with strides (1, out).
    bwd_weights_ = Matmul({{out, rows}, {1, out}}, {{rows, in}, {}}, {{out, in}, {}}, false, Epilogue::Accumulate);
    if (bias) {
        bwd_bias_ = Matmul({{1, rows}, {}}, {{rows, out}, {}}, {{1, out}, {}}, false, Epilogue::Accumulate);
        ones_.assign(static_cast<size_t>(rows), 1.0f);
    }
}

void Linear::forward(const float* x, const float* w, const float* b, float* y) { fwd_.run(x, w, b, y); }

void Linear::backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db) {
    if (dx) bwd_data_.run(dy, w, nullptr, dx);
    bwd_weights_.run(dy, x, nullptr, dw);
    if (db) bwd_bias_.run(ones_.data(), dy, nullptr, db);
}

}  // namespace vit::layers
