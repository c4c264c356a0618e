// Run-time quantisation of activations to unsigned 8 bits, one grid per row (per token of a (B*T, C)
// matrix): row r is stored as q (u8) with x ≈ low_r + scale_r · q, where low_r is the row's minimum
// and scale_r = (max_r - min_r) / 255. The grid spans exactly the row's range, so no value clips and
// the rounding error is at most scale_r / 2. A real-valued offset (rather than ONNX's integer zero
// point) costs nothing here: the int8 Linear removes it after the product with the column sums of the
// weights (int8_linear.hpp), in f32.
//
// Unsigned activations times signed weights is the native form of the AVX512-VNNI instruction
// (vpdpbusd); signed activations would make oneDNN add a compensation of its own to every product.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "util/cpu_dispatch.hpp"
#include "model/layers/dnn.hpp"

namespace vit::layers {

// A (rows, cols) matrix quantised per row, owning its storage.
struct QuantizedRows {
    QuantizedRows() = default;
    QuantizedRows(int64_t rows, int64_t cols)
        : q(static_cast<size_t>(rows * cols)), scale(static_cast<size_t>(rows)), low(static_cast<size_t>(rows)) {}
    std::vector<std::uint8_t> q;  // (rows, cols) row-major
    std::vector<float> scale;     // (rows)
    std::vector<float> low;       // (rows)
};

// Quantises one row of n values, f32 or bf16: writes q[0, n), *scale and *low. A constant row gets
// scale 0 and q = 0, which reproduces it exactly. quantize_row runs the widest variant this CPU allows
// (cpu_dispatch.hpp); quantize_row_body is the loop itself, for other row kernels to inline.
template <class T>
VIT_KERNEL_BODY inline void quantize_row_body(const T* x, int64_t n, std::uint8_t* q, float* scale, float* low);
void quantize_row(const float* x, int64_t n, std::uint8_t* q, float* scale, float* low);
void quantize_row(const Bf16* x, int64_t n, std::uint8_t* q, float* scale, float* low);

// Every row of x (rows, cols) into y, in parallel over rows.
void quantize_rows(const float* x, int64_t rows, int64_t cols, QuantizedRows& y);
void quantize_rows(const Bf16* x, int64_t rows, int64_t cols, QuantizedRows& y);

// y (rows, cols) f32 from its quantised form (tests and diagnostics).
void dequantize_rows(const QuantizedRows& x, int64_t rows, int64_t cols, float* y);

namespace detail {
inline float value(float x) { return x; }
inline float value(Bf16 x) { return from_bf16(x); }
}  // namespace detail

template <class T>
VIT_KERNEL_BODY inline void quantize_row_body(const T* x, int64_t n, std::uint8_t* q, float* scale, float* low) {
    // Written as comparisons (not std::min / max) so that the compiler turns the reduction into vector
    // min / max instructions.
    float lo = detail::value(x[0]), hi = lo;
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t i = 0; i < n; ++i) {
        const float v = detail::value(x[i]);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    const float s = (hi - lo) / 255.0f;
    const float inv = s > 0.0f ? 1.0f / s : 0.0f;
    // (x - lo) / s lies in [0, 255] up to rounding; the clamp keeps that rounding from wrapping.
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
        const float v = std::min((detail::value(x[i]) - lo) * inv, 255.0f) + 0.5f;
        q[i] = static_cast<std::uint8_t>(static_cast<int>(v));
    }
    *scale = s;
    *low = lo;
}

}  // namespace vit::layers
