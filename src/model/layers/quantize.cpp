#include "model/layers/quantize.hpp"

#include <algorithm>

namespace vit::layers {

namespace {
template <class T>
void quantize_rows_of(const T* x, int64_t rows, int64_t cols, QuantizedRows& y) {
#pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r)
        quantize_row(x + r * cols, cols, y.q.data() + r * cols, y.scale.data() + r, y.low.data() + r);
}
}  // namespace

void quantize_row(const float* x, int64_t n, std::uint8_t* q, float* scale, float* low) {
    cpu::vectorized<quantize_row_body<float>>(x, n, q, scale, low);
}
void quantize_row(const Bf16* x, int64_t n, std::uint8_t* q, float* scale, float* low) {
    cpu::vectorized<quantize_row_body<Bf16>>(x, n, q, scale, low);
}

void quantize_rows(const float* x, int64_t rows, int64_t cols, QuantizedRows& y) { quantize_rows_of(x, rows, cols, y); }
void quantize_rows(const Bf16* x, int64_t rows, int64_t cols, QuantizedRows& y) { quantize_rows_of(x, rows, cols, y); }

void dequantize_rows(const QuantizedRows& x, int64_t rows, int64_t cols, float* y) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            y[r * cols + c] = x.low[size_t(r)] + x.scale[size_t(r)] * x.q[size_t(r * cols + c)];
}

}  // namespace vit::layers
