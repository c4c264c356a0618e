#include "vit/layers/softmax.hpp"

#include "vit/error.hpp"

namespace vit::layers {

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

void Softmax::forward(const float* x, void* y) {
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
