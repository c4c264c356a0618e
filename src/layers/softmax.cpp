#include "vit/layers/softmax.hpp"

namespace vit::layers {

Softmax::Softmax(const dims& shape, bool backward) {
    const tag t = shape.size() == 2 ? tag::ab : shape.size() == 3 ? tag::abc : tag::abcd;
    const auto md = f32_desc(shape, t);
    const int axis = static_cast<int>(shape.size()) - 1;
    const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_training, md, axis);
    const dnnl::softmax_forward::primitive_desc pd(desc, cpu_engine());
    prim_ = dnnl::softmax_forward(pd);
    src_ = unbound(md);
    dst_ = unbound(md);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
    if (!backward) return;
    const dnnl::softmax_backward::desc bdesc(md, md, axis);
    bwd_ = dnnl::softmax_backward(dnnl::softmax_backward::primitive_desc(bdesc, cpu_engine(), pd));
    by_ = unbound(md);
    bdy_ = unbound(md);
    bdx_ = unbound(md);
    bargs_ = {{DNNL_ARG_DST, by_}, {DNNL_ARG_DIFF_DST, bdy_}, {DNNL_ARG_DIFF_SRC, bdx_}};
}

void Softmax::forward(const float* x, float* y) {
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
