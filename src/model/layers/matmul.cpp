#include "model/layers/matmul.hpp"

namespace vit::layers {

namespace {
dnnl::memory::desc view_desc(const View& v) {
    if (v.strides.empty()) {
        dims strides(v.shape.size());
        dnnl::memory::dim s = 1;
        for (size_t i = v.shape.size(); i-- > 0;) {
            strides[i] = s;
            s *= v.shape[i];
        }
        return dnnl::memory::desc(v.shape, v.type, strides);
    }
    return dnnl::memory::desc(v.shape, v.type, v.strides);
}
}  // namespace

Matmul::Matmul(const View& src, const View& wei, const View& dst, bool bias, Epilogue ep, float scale,
               Activation act, bool packed)
    : has_bias_(bias) {
    const auto src_md = view_desc(src), dst_md = view_desc(dst);
    const auto wei_md = packed ? dnnl::memory::desc(wei.shape, wei.type, tag::any) : view_desc(wei);
    dims bias_shape(dst.shape.size(), 1);
    bias_shape.back() = dst.shape.back();
    const auto bias_md = bias ? f32_desc(bias_shape, bias_shape.size() == 2 ? tag::ab : tag::abc)
                              : dnnl::memory::desc();

    dnnl::primitive_attr attr;
    dnnl::post_ops ops;
    if (ep == Epilogue::Activate) {
        const Eltwise e = eltwise_of(act);
        ops.append_eltwise(1.0f, e.alg, e.alpha, 0.0f);
    }
    if (ep == Epilogue::Accumulate) ops.append_sum(1.0f);
    attr.set_post_ops(ops);
    if (scale != 1.0f) attr.set_output_scales(0, {scale});

    const auto desc = bias ? dnnl::matmul::desc(src_md, wei_md, bias_md, dst_md)
                           : dnnl::matmul::desc(src_md, wei_md, dst_md);
    pd_ = dnnl::matmul::primitive_desc(desc, attr, cpu_engine());
    prim_ = dnnl::matmul(pd_);
    src_ = unbound(src_md);
    wei_ = unbound(pd_.weights_desc());
    dst_ = unbound(dst_md);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_DST, dst_}};
    if (bias) {
        bias_ = unbound(bias_md);
        args_.emplace(DNNL_ARG_BIAS, bias_);
    }
}

void Matmul::run(const void* src, const void* wei, const float* bias, void* dst) {
    bind(src_, src);
    bind(wei_, wei);
    bind(dst_, dst);
    if (has_bias_) bind(bias_, bias);
    prim_.execute(cpu_stream(), args_);
    cpu_stream().wait();
}

dnnl::memory Matmul::pack(const void* w, const View& from) const {
    dnnl::memory src(view_desc(from), cpu_engine(), const_cast<void*>(w));
    dnnl::memory packed(pd_.weights_desc(), cpu_engine());
    dnnl::reorder(src, packed).execute(cpu_stream(), src, packed);
    cpu_stream().wait();
    return packed;
}

const char* Matmul::impl() const { return pd_.impl_info_str(); }

}  // namespace vit::layers
