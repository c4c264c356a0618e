#include "vit/layers/quantize.hpp"

#include <algorithm>

namespace vit::layers {

VIT_ROW_KERNEL void quantize_row(const float* x, int64_t n, std::uint8_t* q, float* scale, float* low) {
    float lo = x[0], hi = x[0];
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t i = 0; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    const float s = (hi - lo) / 255.0f;
    const float inv = s > 0.0f ? 1.0f / s : 0.0f;
    // (x - lo) / s lies in [0, 255] up to rounding; the clamp keeps that rounding from wrapping.
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float v = std::min((x[i] - lo) * inv, 255.0f) + 0.5f;
        q[i] = static_cast<std::uint8_t>(static_cast<int>(v));
    }
    *scale = s;
    *low = lo;
}

void quantize_rows(const float* x, int64_t rows, int64_t cols, QuantizedRows& y) {
#pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r)
        quantize_row(x + r * cols, cols, y.q.data() + r * cols, y.scale.data() + r, y.low.data() + r);
}

void dequantize_rows(const QuantizedRows& x, int64_t rows, int64_t cols, float* y) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            y[r * cols + c] = x.low[size_t(r)] + x.scale[size_t(r)] * x.q[size_t(r * cols + c)];
}

}  // namespace vit::layers
