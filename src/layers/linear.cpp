#include "vit/layers/linear.hpp"

#include <algorithm>

#include "vit/cpu_dispatch.hpp"

namespace vit::layers {

namespace {
// db (cols) += Σ_r dy (rows, cols): blocks of 16 columns (one cache line per row) across threads, each
// summing its rows in order. As a oneDNN product ones (1, rows) · dy it was a matrix-vector product that
// took 7% of a cifar-t training step; this is one pass over dy.
// A full block is a fixed 16-wide loop, one AVX-512 add per row (the clone the loader picks).
VIT_ROW_KERNEL void add_column_sums(const float* dy, int64_t rows, int64_t cols, float* db) {
    constexpr int64_t kBlock = 16;
#pragma omp parallel for
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
        const int64_t n = std::min(kBlock, cols - j0);
        float acc[kBlock] = {};
        if (n == kBlock) {
            for (int64_t r = 0; r < rows; ++r) {
                const float* row = dy + r * cols + j0;
#pragma omp simd
                for (int64_t j = 0; j < kBlock; ++j) acc[j] += row[j];
            }
        } else {
            for (int64_t r = 0; r < rows; ++r) {
                const float* row = dy + r * cols + j0;
                for (int64_t j = 0; j < n; ++j) acc[j] += row[j];
            }
        }
        for (int64_t j = 0; j < n; ++j) db[j0 + j] += acc[j];
    }
}
}  // namespace

Linear::Linear(int64_t rows, int64_t in, int64_t out, bool bias, Epilogue ep, bool backward, Activation act,
               LinearTypes types)
    : w_{{in, out}, {1, in}}, rows_(rows), out_(out) {  // W (out, in) row-major read as the (in, out) right operand: strides (1, in)
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
    if (db) add_column_sums(dy, rows_, out_, db);
}

}  // namespace vit::layers
