#include "model/layers/linear.hpp"

#include <algorithm>

#include "util/cpu_dispatch.hpp"
#include "vit/util/error.hpp"

namespace vit::layers {

namespace {
// db (cols) += Σ_r dy (rows, cols), and in a bf16 backward dy16 = bf16(dy) in the same pass. The rows
// are cut into fixed chunks of kChunkRows; each chunk's column sums go to its own row of part (chunks
// across threads, each read row-major in one stream), then every column adds its chunks in order. The
// chunking does not depend on the thread count, so neither do the sums. (Earlier versions summed blocks
// of 16 columns down all rows: a strided walk that took twice as long; before that a oneDNN
// ones (1, rows) · dy product, 7% of a cifar-t step.) A bf16 backward reads dy once instead of twice
// (its rounding used to be a separate oneDNN reorder).
constexpr int64_t kChunkRows = 64;

VIT_KERNEL_BODY inline void sum_chunk(const float* dy, int64_t rows, int64_t cols, float* part, Bf16* dy16) {
    std::fill(part, part + cols, 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = dy + r * cols;
        if (dy16 == nullptr) {
#pragma omp simd
            for (int64_t j = 0; j < cols; ++j) part[j] += row[j];
            continue;
        }
        Bf16* out = dy16 + r * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
            part[j] += row[j];
            out[j] = to_bf16(row[j]);
        }
    }
}

VIT_KERNEL_BODY inline void round_rows(const float* dy, int64_t n, Bf16* dy16) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dy16[i] = to_bf16(dy[i]);
}

// Columns [j0, j0 + 16) of db += Σ_c part (chunks, cols).
constexpr int64_t kBlock = 16;
VIT_KERNEL_BODY inline void add_chunk_sums_block(const float* part, int64_t chunks, int64_t cols, int64_t j0, float* db) {
    const int64_t n = std::min(kBlock, cols - j0);
    float acc[kBlock] = {};
    for (int64_t c = 0; c < chunks; ++c)
        for (int64_t j = 0; j < n; ++j) acc[j] += part[c * cols + j0 + j];
    for (int64_t j = 0; j < n; ++j) db[j0 + j] += acc[j];
}

// The dispatch sits inside the parallel loop: OpenMP outlines a parallel region into a function of its
// own, compiled for the baseline.
void add_chunk_sums(const float* part, int64_t chunks, int64_t cols, float* db) {
#pragma omp parallel for
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock) cpu::vectorized<add_chunk_sums_block>(part, chunks, cols, j0, db);
}
}  // namespace

int64_t Linear::chunks() const { return (rows_ + kChunkRows - 1) / kChunkRows; }

// dy (rows, cols) -> db += its column sums (db may be null), dy16 = bf16(dy) (may be null).
void Linear::sum_and_round(const float* dy, float* db, Bf16* dy16) {
    const int64_t cols = out_, n_chunks = chunks();
    if (db == nullptr) {
        if (dy16 == nullptr) return;
#pragma omp parallel for
        for (int64_t c = 0; c < n_chunks; ++c) {
            const int64_t r0 = c * kChunkRows, n = std::min(kChunkRows, rows_ - r0);
            cpu::vectorized<round_rows>(dy + r0 * cols, n * cols, dy16 + r0 * cols);
        }
        return;
    }
#pragma omp parallel for
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t r0 = c * kChunkRows, n = std::min(kChunkRows, rows_ - r0);
        cpu::vectorized<sum_chunk>(dy + r0 * cols, n, cols, col_part_.data() + c * cols,
                                   dy16 ? dy16 + r0 * cols : nullptr);
    }
    add_chunk_sums(col_part_.data(), n_chunks, cols, db);
}

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
    if (in_type == dt::bf16) dy16_.resize(static_cast<size_t>(rows * out));
    col_part_.resize(static_cast<size_t>(chunks() * out));
}

void Linear::forward(const void* x, const void* w, const float* b, void* y) { fwd_.run(x, w, b, y); }

dnnl::memory Linear::pack(const float* w) const { return fwd_.pack(w, w_); }

void Linear::backward(const void* x, const void* w, const float* dy, float* dx, float* dw, float* db) {
    if (col_part_.empty()) throw ConfigError("backward of a Linear planned for inference only");
    Bf16* dy16 = dy16_.empty() ? nullptr : dy16_.data();
    sum_and_round(dy, db, dy16);
    const void* dy_in = dy16 ? static_cast<const void*>(dy16) : dy;
    if (dx) bwd_data_.run(dy_in, w, nullptr, dx);
    bwd_weights_.run(dy_in, x, nullptr, dw);
}

}  // namespace vit::layers
