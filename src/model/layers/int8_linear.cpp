#include "model/layers/int8_linear.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "util/cpu_dispatch.hpp"
#include "vit/util/cpu_support.hpp"
#include "vit/util/error.hpp"
#include "model/layers/activation_math.hpp"

namespace vit::layers {

namespace {
// One row of the epilogue: y_c (+)= a · (sw_c · acc_c) + (o · sum_c + b_c), a = sa_r, o = low_r.
VIT_KERNEL_BODY inline void rescale_row(const std::int32_t* acc, int64_t n, float a, float o, const Int8Weights& w,
                                        float* y, bool accumulate) {
    const float *sw = w.scale.data(), *sum = w.sum.data(), *b = w.bias.data();
    if (accumulate) {
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) y[c] += a * (sw[c] * static_cast<float>(acc[c])) + (o * sum[c] + b[c]);
    } else {
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) y[c] = a * (sw[c] * static_cast<float>(acc[c])) + (o * sum[c] + b[c]);
    }
}

// The same, written rounded to bf16.
VIT_KERNEL_BODY inline void rescale_row_bf16(const std::int32_t* acc, int64_t n, float a, float o, const Int8Weights& w,
                                             Bf16* y) {
    const float *sw = w.scale.data(), *sum = w.sum.data(), *b = w.bias.data();
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) y[c] = to_bf16(a * (sw[c] * static_cast<float>(acc[c])) + (o * sum[c] + b[c]));
}

VIT_KERNEL_BODY inline void activate_row(Activation act, float* y, int64_t n) {
    switch (act) {
    case Activation::Gelu:
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) y[c] = gelu_erf(y[c]);
        break;
    case Activation::QuickGelu:
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) y[c] = quick_gelu(y[c]);
        break;
    case Activation::GeluTanh:
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) y[c] = gelu_tanh(y[c]);
        break;
    }
}

// fc1's epilogue, one row: rescaled into the f32 row, activated, then quantised for fc2.
VIT_KERNEL_BODY inline void epilogue_row(const std::int32_t* acc, int64_t n, float a, float o, const Int8Weights& w,
                                         Activation act, float* row, std::uint8_t* q, float* scale, float* low) {
    rescale_row(acc, n, a, o, w, row, false);
    activate_row(act, row, n);
    quantize_row_body(row, n, q, scale, low);
}
}  // namespace

Int8Linear::Int8Linear(int64_t rows, int64_t in, int64_t out, Epilogue ep, Activation act, dt y_type)
    : mm_({{rows, in}, {}, dt::u8}, {{in, out}, {1, in}, dt::s8}, {{rows, out}, {}, dt::s32}, false, Epilogue::None,
          1.0f, act, true),
      rows_(rows), in_(in), out_(out), ep_(ep), act_(act), y_type_(ep == Epilogue::None ? y_type : dt::f32),
      threads_(omp_get_max_threads()),
      levels_(int8_weight_levels()) {
    if (ep == Epilogue::Activate) row_.resize(size_t(threads_) * aligned_stride<float>(size_t(out)));
}

int int8_weight_levels() { return cpu_support().int8.mode == DtypeMode::Native ? 127 : 63; }

QuantizedWeights quantize_weights(const float* w, int64_t out, int64_t in, int levels) {
    if (levels != 127 && levels != 63)
        throw ConfigError("int8 weights take 127 or 63 levels a side, not " + std::to_string(levels));
    QuantizedWeights p;
    p.q.resize(size_t(out * in));
    p.scale.resize(size_t(out));
    p.sum.resize(size_t(out));
    const float L = static_cast<float>(levels);
    for (int64_t c = 0; c < out; ++c) {
        const float* wc = w + c * in;
        float m = 0;
        for (int64_t k = 0; k < in; ++k) m = std::max(m, std::fabs(wc[k]));
        const float s = m / L, inv = m > 0 ? L / m : 0.0f;
        int64_t sum = 0;
        for (int64_t k = 0; k < in; ++k) {
            const auto v = static_cast<std::int8_t>(std::lround(wc[k] * inv));  // |v| <= levels
            p.q[size_t(c * in + k)] = v;
            sum += v;
        }
        p.scale[size_t(c)] = s;
        p.sum[size_t(c)] = s * static_cast<float>(sum);
    }
    return p;
}

Int8Weights Int8Linear::pack(const float* w, const float* b) const {
    QuantizedWeights qw = quantize_weights(w, out_, in_, levels_);
    Int8Weights p;
    p.scale = std::move(qw.scale);
    p.sum = std::move(qw.sum);
    p.bias.assign(size_t(out_), 0.0f);
    if (b) std::copy(b, b + out_, p.bias.begin());
    // Wq (out, in) row-major read as the (in, out) right operand, as Linear reads W.
    p.q = mm_.pack(qw.q.data(), View{{in_, out_}, {1, in_}, dt::s8});
    return p;
}

void Int8Linear::forward(const QuantizedRows& x, const Int8Weights& w, std::int32_t* acc, void* y) {
    if (ep_ == Epilogue::Activate) throw ConfigError("an int8 Linear with an activation writes quantised rows");
    mm_.run(x.q.data(), w.q.get_data_handle(), nullptr, acc);
    const bool accumulate = ep_ == Epilogue::Accumulate;
    const int64_t n = out_;
    if (y_type_ == dt::bf16) {
        Bf16* y16 = static_cast<Bf16*>(y);
#pragma omp parallel for
        for (int64_t r = 0; r < rows_; ++r)
            cpu::vectorized<rescale_row_bf16>(acc + r * n, n, x.scale[size_t(r)], x.low[size_t(r)], w, y16 + r * n);
        return;
    }
    float* y32 = static_cast<float*>(y);
#pragma omp parallel for
    for (int64_t r = 0; r < rows_; ++r)
        cpu::vectorized<rescale_row>(acc + r * n, n, x.scale[size_t(r)], x.low[size_t(r)], w, y32 + r * n, accumulate);
}

void Int8Linear::forward(const QuantizedRows& x, const Int8Weights& w, std::int32_t* acc, QuantizedRows& y) {
    if (ep_ != Epilogue::Activate) throw ConfigError("an int8 Linear writes quantised rows only after its activation");
    mm_.run(x.q.data(), w.q.get_data_handle(), nullptr, acc);
    const int64_t n = out_;
#pragma omp parallel for num_threads(std::min(threads_, omp_get_max_threads()))
    for (int64_t r = 0; r < rows_; ++r) {
        float* row = row_.data() + size_t(omp_get_thread_num()) * aligned_stride<float>(size_t(n));
        cpu::vectorized<epilogue_row>(acc + r * n, n, x.scale[size_t(r)], x.low[size_t(r)], w, act_, row,
                                      y.q.data() + r * n, y.scale.data() + r, y.low.data() + r);
    }
}

}  // namespace vit::layers
