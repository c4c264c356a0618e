#include "vit/layers/quantize.hpp"

#include <algorithm>

#include "vit/cpu_dispatch.hpp"

namespace vit::layers {

namespace {
inline float value(float x) { return x; }
inline float value(Bf16 x) { return from_bf16(x); }

// The row kernel for either input type, inlined into each of the compiled variants below.
template <class T>
__attribute__((always_inline)) inline void quantize_row_of(const T* x, int64_t n, std::uint8_t* q, float* scale,
                                                           float* low) {
    // Written as comparisons (not std::min / max) so that the compiler turns the reduction into vector
    // min / max instructions.
    float lo = value(x[0]), hi = lo;
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t i = 0; i < n; ++i) {
        const float v = value(x[i]);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    const float s = (hi - lo) / 255.0f;
    const float inv = s > 0.0f ? 1.0f / s : 0.0f;
    // (x - lo) / s lies in [0, 255] up to rounding; the clamp keeps that rounding from wrapping.
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float v = std::min((value(x[i]) - lo) * inv, 255.0f) + 0.5f;
        q[i] = static_cast<std::uint8_t>(static_cast<int>(v));
    }
    *scale = s;
    *low = lo;
}

template <class T>
void quantize_rows_of(const T* x, int64_t rows, int64_t cols, QuantizedRows& y) {
#pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r)
        quantize_row(x + r * cols, cols, y.q.data() + r * cols, y.scale.data() + r, y.low.data() + r);
}
}  // namespace

void quantize_row(const float* x, int64_t n, std::uint8_t* q, float* scale, float* low) {
    cpu::vectorized([&]() VIT_KERNEL_BODY {
        quantize_row_of(x, n, q, scale, low);
    });
}
void quantize_row(const Bf16* x, int64_t n, std::uint8_t* q, float* scale, float* low) {
    cpu::vectorized([&]() VIT_KERNEL_BODY {
        quantize_row_of(x, n, q, scale, low);
    });
}

void quantize_rows(const float* x, int64_t rows, int64_t cols, QuantizedRows& y) { quantize_rows_of(x, rows, cols, y); }
void quantize_rows(const Bf16* x, int64_t rows, int64_t cols, QuantizedRows& y) { quantize_rows_of(x, rows, cols, y); }

void dequantize_rows(const QuantizedRows& x, int64_t rows, int64_t cols, float* y) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            y[r * cols + c] = x.low[size_t(r)] + x.scale[size_t(r)] * x.q[size_t(r * cols + c)];
}

}  // namespace vit::layers
