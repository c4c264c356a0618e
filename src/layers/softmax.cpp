#include "vit/layers/softmax.hpp"

namespace vit::layers {

Softmax::Softmax(const dims& shape) {
    const tag t = shape.size() == 2 ? tag::ab : shape.size() == 3 ? tag::abc : tag::abcd;
    const auto md = f32_desc(shape, t);
    const int axis = static_cast<int>(shape.size()) - 1;
    const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_training, md, axis);
    prim_ = dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(desc, cpu_engine()));
    src_ = unbound(md);
    dst_ = unbound(md);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
}

void Softmax::forward(const float* x, float* y) {
    bind(src_, x);
    bind(dst_, y);
    prim_.execute(cpu_stream(), args_);
    cpu_stream().wait();
}

}  // namespace vit::layers
