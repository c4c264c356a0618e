#include "vit/layers/dnn.hpp"

namespace vit::layers {

dnnl::engine& cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

Eltwise eltwise_of(Activation act) {
    switch (act) {
    case Activation::Gelu: return {dnnl::algorithm::eltwise_gelu_erf, 0.0f};
    case Activation::QuickGelu: return {dnnl::algorithm::eltwise_swish, 1.702f};
    case Activation::GeluTanh: return {dnnl::algorithm::eltwise_gelu_tanh, 0.0f};
    }
    return {dnnl::algorithm::eltwise_gelu_erf, 0.0f};
}

dnnl::stream& cpu_stream() {
    static dnnl::stream stream(cpu_engine());
    return stream;
}

}  // namespace vit::layers
