#include "model/layers/softmax.hpp"

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "util/cpu_dispatch.hpp"
#include "vit/util/error.hpp"

namespace vit::layers {

namespace {

// The f32 forward on AVX-512 machines: oneDNN 2.6's softmax takes 2.3-2.4x the time of this kernel on
// attention rows (1.64 against 0.69 ms for vit_tiny's 32x3x197 rows of 197, 1.31 against 0.54 for
// cifar-t's 128x4x65 rows of 65, 2 threads), 2-4% of a whole inference pass or training step.
// Per row: the maximum, exp(x - max) with their sum, then a multiply by 1 / sum. Rows are
// independent, so the result does not depend on the thread count.

// e^x for x <= 0, to about 1 ulp: x = n ln 2 + r with |r| <= ln 2 / 2 (ln 2 split in two for an exact
// reduction), e^r by Cephes' degree-7 minimax polynomial 1 + r + r^2 (c0 + c1 r + ... + c5 r^5), then
// scaled by 2^n. Below -87.3 the result would be denormal or 0: clamped there, where it is < 1.2e-38.
// The unmasked max, roundscale and scalef intrinsics pass _mm512_undefined_ps() to their builtins,
// which GCC 12 reports as uninitialised under -Werror; their masked forms with every lane on and the
// first operand as pass-through compute the same.
constexpr __mmask16 kAllLanes = 0xFFFF;

__attribute__((target("avx512f"))) inline __m512 max_ps(__m512 a, __m512 b) { return _mm512_mask_max_ps(a, kAllLanes, a, b); }

__attribute__((target("avx512f"))) inline __m512 exp_nonpositive(__m512 x) {
    x = max_ps(x, _mm512_set1_ps(-87.3f));
    const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
    const __m512 n = _mm512_mask_roundscale_ps(t, kAllLanes, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_mask_scalef_ps(p, kAllLanes, p, n);
}

// Horizontal maximum and sum through memory: GCC 12's reduce intrinsics trip -Wuninitialized.
__attribute__((target("avx512f"))) inline float lanes_max(__m512 v) {
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    float m = t[0];
    for (int i = 1; i < 16; ++i) m = std::fmax(m, t[i]);
    return m;
}

__attribute__((target("avx512f"))) inline float lanes_sum(__m512 v) {
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    float s = 0;
    for (float x : t) s += x;
    return s;
}

// One row of n values, x -> y (may be the same memory): every element is read before it is written.
__attribute__((target("avx512f"))) void softmax_row_avx512(const float* x, float* y, int n) {
    const int full = n / 16 * 16;
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1u);
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < full; j += 16) m = max_ps(m, _mm512_loadu_ps(x + j));
    if (tail) m = _mm512_mask_max_ps(m, tail, m, _mm512_maskz_loadu_ps(tail, x + full));
    const __m512 mx = _mm512_set1_ps(lanes_max(m));
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < full; j += 16) {
        const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(x + j), mx));
        _mm512_storeu_ps(y + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (tail) {
        const __m512 e = _mm512_maskz_mov_ps(tail, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + full), mx)));
        _mm512_mask_storeu_ps(y + full, tail, e);
        sum = _mm512_add_ps(sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / lanes_sum(sum));
    for (int j = 0; j < full; j += 16) _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_loadu_ps(y + j), inv));
    if (tail) _mm512_mask_storeu_ps(y + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, y + full), inv));
}

// Our kernel runs where our other AVX-512 loops do: under the same cap (cpu_dispatch.hpp).
bool has_avx512() { return cpu::vector_level() == cpu::Vectors::Avx512; }

}  // namespace

Softmax::Softmax(const dims& shape, bool backward, dt dst) {
    const tag t = shape.size() == 2 ? tag::ab : shape.size() == 3 ? tag::abc : tag::abcd;
    const auto md = f32_desc(shape, t);
    const int axis = static_cast<int>(shape.size()) - 1;
    if (dst != dt::f32) {  // oneDNN 2.6: only softmax_v2 converts
        if (backward) throw ConfigError("a softmax with a bf16 destination is for inference only");
        const dnnl::memory::desc dst_md(shape, dst, t);
        const dnnl::softmax_v2_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_accurate,
                                                  md, dst_md, axis);
        prim_ = dnnl::softmax_v2_forward(dnnl::softmax_v2_forward::primitive_desc(desc, cpu_engine()));
        src_ = unbound(md);
        dst_ = unbound(dst_md);
        args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
        return;
    }
    // The forward's descriptor is also the backward's hint; its primitive is built only where our own
    // kernel does not run.
    const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_training, md, axis);
    const dnnl::softmax_forward::primitive_desc pd(desc, cpu_engine());
    if (has_avx512()) {
        rows_ = 1;
        for (size_t i = 0; i + 1 < shape.size(); ++i) rows_ *= shape[i];
        cols_ = static_cast<int>(shape.back());
    } else {
        prim_ = dnnl::softmax_forward(pd);
        src_ = unbound(md);
        dst_ = unbound(md);
        args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
    }
    if (!backward) return;
    const dnnl::softmax_backward::desc bdesc(md, md, axis);
    bwd_ = dnnl::softmax_backward(dnnl::softmax_backward::primitive_desc(bdesc, cpu_engine(), pd));
    by_ = unbound(md);
    bdy_ = unbound(md);
    bdx_ = unbound(md);
    bargs_ = {{DNNL_ARG_DST, by_}, {DNNL_ARG_DIFF_DST, bdy_}, {DNNL_ARG_DIFF_SRC, bdx_}};
}

void Softmax::forward(const float* x, void* y) {
    if (rows_ > 0) {
        auto* out = static_cast<float*>(y);
#pragma omp parallel for
        for (int64_t r = 0; r < rows_; ++r) softmax_row_avx512(x + r * cols_, out + r * cols_, cols_);
        return;
    }
    bind(src_, x);
    bind(dst_, y);
    prim_.execute(cpu_stream(), args_);
    cpu_stream().wait();
}

void Softmax::backward(const float* y, const float* dy, float* dx) {
    bind(by_, y);
    bind(bdy_, dy);
    bind(bdx_, dx);
    bwd_.execute(cpu_stream(), bargs_);
    cpu_stream().wait();
}

}  // namespace vit::layers
