#include "model/layers/dnn.hpp"

namespace vit::layers {

Eltwise eltwise_of(Activation act) {
    switch (act) {
    case Activation::Gelu: return {dnnl::algorithm::eltwise_gelu_erf, 0.0f};
    case Activation::QuickGelu: return {dnnl::algorithm::eltwise_swish, 1.702f};
    case Activation::GeluTanh: return {dnnl::algorithm::eltwise_gelu_tanh, 0.0f};
    }
    return {dnnl::algorithm::eltwise_gelu_erf, 0.0f};
}

}  // namespace vit::layers
