#include "model/layers/convert.hpp"

namespace vit::layers {

Convert::Convert(int64_t n, dt from, dt to) {
    const dnnl::memory::desc src_md({n}, from, tag::a), dst_md({n}, to, tag::a);
    prim_ = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), src_md, cpu_engine(), dst_md));
    src_ = unbound(src_md);
    dst_ = unbound(dst_md);
    args_ = {{DNNL_ARG_FROM, src_}, {DNNL_ARG_TO, dst_}};
}

void Convert::run(const void* src, void* dst) {
    bind(src_, src);
    bind(dst_, dst);
    prim_.execute(cpu_stream(), args_);
    cpu_stream().wait();
}

}  // namespace vit::layers
