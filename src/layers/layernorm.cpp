#include "vit/layers/layernorm.hpp"

namespace vit::layers {

LayerNorm::LayerNorm(int64_t rows, int64_t channels, float eps, bool training) : training_(training) {
    const auto data_md = f32_desc({rows, channels}, tag::ab);
    const auto stat_md = f32_desc({rows}, tag::a);
    const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    const auto kind = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const dnnl::layer_normalization_forward::desc desc(kind, data_md, stat_md, eps, flags);
    const dnnl::layer_normalization_forward::primitive_desc pd(desc, cpu_engine());
    prim_ = dnnl::layer_normalization_forward(pd);
    src_ = unbound(data_md);
    dst_ = unbound(data_md);
    scale_ = unbound(f32_desc({channels}, tag::a));
    shift_ = unbound(f32_desc({channels}, tag::a));
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_SCALE, scale_}, {DNNL_ARG_SHIFT, shift_}};
    if (training) {
        mean_ = unbound(stat_md);
        var_ = unbound(stat_md);
        args_.emplace(DNNL_ARG_MEAN, mean_);
        args_.emplace(DNNL_ARG_VARIANCE, var_);
    }
}

void LayerNorm::forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* var) {
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

}  // namespace vit::layers
