#include "model/layers/gelu.hpp"

namespace vit::layers {

Gelu::Gelu(int64_t n, Activation act) {
    const auto md = f32_desc({n}, tag::a);
    const Eltwise e = eltwise_of(act);
    const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, e.alg, md, e.alpha);
    const dnnl::eltwise_forward::primitive_desc pd(desc, cpu_engine());
    fwd_ = dnnl::eltwise_forward(pd);
    const dnnl::eltwise_backward::desc bdesc(e.alg, md, md, e.alpha);
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

void Gelu::identity_rule(const float* x, const float* y, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (x[i] != 0.0f ? y[i] / x[i] : 0.5f);
}

}  // namespace vit::layers
