#include "model/layers/layernorm.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "util/cpu_dispatch.hpp"
#include "vit/util/error.hpp"

namespace vit::layers {

namespace {
// A row's mean, biased variance and 1 / sqrt(variance + eps): the mean, then the variance about it (two
// passes, as oneDNN).
struct RowStats {
    float mean, var, inv_std;
};
VIT_KERNEL_BODY inline RowStats row_stats(const float* x, int64_t C, float eps) {
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; ++c) sum += x[c];
    const float mu = sum / static_cast<float>(C);
    float sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < C; ++c) sq += (x[c] - mu) * (x[c] - mu);
    const float var = sq / static_cast<float>(C);
    return {mu, var, 1.0f / std::sqrt(var + eps)};
}

// One row of the bf16 output: y = (x - mean) / std · gamma + beta, rounded; returns the statistics.
VIT_KERNEL_BODY inline RowStats normalize_bf16_row(const float* x, int64_t C, float eps, const float* gamma,
                                                   const float* beta, Bf16* y) {
    const RowStats st = row_stats(x, C, eps);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) y[c] = to_bf16((x[c] - st.mean) * st.inv_std * gamma[c] + beta[c]);
    return st;
}

// One row of the u8 output: y = (x - mean) / std · gamma + beta into the f32 row y, then quantised.
VIT_KERNEL_BODY inline void normalize_quantize_row(const float* x, int64_t C, float eps, const float* gamma,
                                                   const float* beta, float* y, QuantizedRows& out, int64_t r) {
    const RowStats st = row_stats(x, C, eps);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - st.mean) * st.inv_std * gamma[c] + beta[c];
    quantize_row_body(y, C, out.q.data() + r * C, out.scale.data() + r, out.low.data() + r);
}
}  // namespace

LayerNorm::LayerNorm(int64_t rows, int64_t channels, float eps, bool training, dt out)
    : training_(training), rows_(rows), channels_(channels), eps_(eps), out_(out), threads_(omp_get_max_threads()) {
    if (out == dt::u8) {
        if (training) throw ConfigError("a LayerNorm with quantised output is for inference only");
        row_.resize(static_cast<size_t>(threads_ * channels));
        return;
    }
    // bf16 output: the forward is our own pass; in training the oneDNN forward below is still planned,
    // as the hint its backward needs, but never run.
    if (out == dt::bf16 && !training) return;
    const auto data_md = f32_desc({rows, channels}, tag::ab);
    const auto stat_md = f32_desc({rows}, tag::a);
    const auto chan_md = f32_desc({channels}, tag::a);
    const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    const auto kind = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const dnnl::layer_normalization_forward::desc desc(kind, data_md, stat_md, eps, flags);
    const dnnl::layer_normalization_forward::primitive_desc pd(desc, cpu_engine());
    prim_ = dnnl::layer_normalization_forward(pd);
    src_ = unbound(data_md);
    dst_ = unbound(data_md);
    scale_ = unbound(chan_md);
    shift_ = unbound(chan_md);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_SCALE, scale_}, {DNNL_ARG_SHIFT, shift_}};
    if (!training) return;
    mean_ = unbound(stat_md);
    var_ = unbound(stat_md);
    args_.emplace(DNNL_ARG_MEAN, mean_);
    args_.emplace(DNNL_ARG_VARIANCE, var_);

    const dnnl::layer_normalization_backward::desc bdesc(dnnl::prop_kind::backward, data_md, data_md, stat_md, eps,
                                                         flags);
    bwd_ = dnnl::layer_normalization_backward(
        dnnl::layer_normalization_backward::primitive_desc(bdesc, cpu_engine(), pd));
    bsrc_ = unbound(data_md);
    bmean_ = unbound(stat_md);
    bvar_ = unbound(stat_md);
    bscale_ = unbound(chan_md);
    bdiff_dst_ = unbound(data_md);
    bdiff_src_ = unbound(data_md);
    dgamma_.assign(static_cast<size_t>(channels), 0.0f);
    dbeta_.assign(static_cast<size_t>(channels), 0.0f);
    bdiff_scale_ = dnnl::memory(chan_md, cpu_engine(), dgamma_.data());
    bdiff_shift_ = dnnl::memory(chan_md, cpu_engine(), dbeta_.data());
    // oneDNN 2.6 rejects a backward call without a SHIFT argument although the gradients do not
    // depend on beta; it gets the scale's memory, which it never reads.
    bargs_ = {{DNNL_ARG_SRC, bsrc_},           {DNNL_ARG_MEAN, bmean_},           {DNNL_ARG_VARIANCE, bvar_},
              {DNNL_ARG_SCALE, bscale_},       {DNNL_ARG_SHIFT, bscale_},         {DNNL_ARG_DIFF_DST, bdiff_dst_},
              {DNNL_ARG_DIFF_SRC, bdiff_src_}, {DNNL_ARG_DIFF_SCALE, bdiff_scale_}, {DNNL_ARG_DIFF_SHIFT, bdiff_shift_}};
}

void LayerNorm::forward(const float* x, const float* gamma, const float* beta, void* y, float* mean, float* var) {
    if (out_ == dt::u8) throw ConfigError("a LayerNorm planned for quantised output writes QuantizedRows");
    if (out_ == dt::bf16) {
        const int64_t C = channels_;
        Bf16* out = static_cast<Bf16*>(y);
#pragma omp parallel for
        for (int64_t r = 0; r < rows_; ++r) {
            const float* xr = x + r * C;
            const RowStats st = cpu::vectorized<normalize_bf16_row>(xr, C, eps_, gamma, beta, out + r * C);
            if (mean) {  // training: the statistics the backward reads
                mean[r] = st.mean;
                var[r] = st.var;
            }
        }
        return;
    }
    bind(src_, x);
    bind(dst_, y);
    bind(scale_, gamma);
    bind(shift_, beta);
    if (training_) {
        bind(mean_, mean);
        bind(var_, var);
    }
    prim_.execute(cpu_stream(), args_);
    cpu_stream().wait();
}

void LayerNorm::forward(const float* x, const float* gamma, const float* beta, QuantizedRows& y) {
    if (out_ != dt::u8) throw ConfigError("a LayerNorm writes QuantizedRows only when planned for u8 output");
    const int64_t C = channels_;
#pragma omp parallel for num_threads(std::min(threads_, omp_get_max_threads()))
    for (int64_t r = 0; r < rows_; ++r)
        cpu::vectorized<normalize_quantize_row>(x + r * C, C, eps_, gamma, beta,
                                                row_.data() + int64_t(omp_get_thread_num()) * C, y, r);
}

void LayerNorm::backward(const float* x, const float* mean, const float* var, const float* gamma, const float* dy,
                         float* dx, float* dgamma, float* dbeta) {
    bind(bsrc_, x);
    bind(bmean_, mean);
    bind(bvar_, var);
    bind(bscale_, gamma);
    bind(bdiff_dst_, dy);
    bind(bdiff_src_, dx);
    bwd_.execute(cpu_stream(), bargs_);
    cpu_stream().wait();
    for (size_t c = 0; c < dgamma_.size(); ++c) {
        dgamma[c] += dgamma_[c];
        dbeta[c] += dbeta_[c];
    }
}

void LayerNorm::backward_fixed_scale(const float* var, const float* gamma, const float* dy, float* dx) const {
    const int64_t C = channels_;
#pragma omp parallel for
    for (int64_t r = 0; r < rows_; ++r) {
        const float* d = dy + r * C;
        float* out = dx + r * C;
        const float inv = 1.0f / std::sqrt(var[r] + eps_);
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += double(gamma[c]) * d[c];
        const float mean = static_cast<float>(sum / double(C));
        for (int64_t c = 0; c < C; ++c) out[c] = inv * (gamma[c] * d[c] - mean);
    }
}

}  // namespace vit::layers
