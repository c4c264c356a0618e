#include "vit/layers/gelu.hpp"

namespace vit::layers {

Gelu::Gelu(int64_t n) {
    const auto md = f32_desc({n}, tag::a);
    const auto alg = dnnl::algorithm::eltwise_gelu_erf;
    const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, alg, md);
    const dnnl::eltwise_forward::primitive_desc pd(desc, cpu_engine());
    fwd_ = dnnl::eltwise_forward(pd);
    const dnnl::eltwise_backward::desc bdesc(alg, md, md);
    bwd_ = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(bdesc, cpu_engine(), pd));
    x_ = unbound(md);
    y_ = unbound(md);
    bx_ = unbound(md);
    bdy_ = unbound(md);
    bdx_ = unbound(md);
    args_ = {{DNNL_ARG_SRC, x_}, {DNNL_ARG_DST, y_}};
    bargs_ = {{DNNL_ARG_SRC, bx_}, {DNNL_ARG_DIFF_DST, bdy_}, {DNNL_ARG_DIFF_SRC, bdx_}};
}

void Gelu::forward(const float* x, float* y) {
    bind(x_, x);
    bind(y_, y);
    fwd_.execute(cpu_stream(), args_);
    cpu_stream().wait();
}

void Gelu::backward(const float* x, const float* dy, float* dx) {
    bind(bx_, x);
    bind(bdy_, dy);
    bind(bdx_, dx);
    bwd_.execute(cpu_stream(), bargs_);
    cpu_stream().wait();
}

}  // namespace vit::layers
