// The MLP activation and its backward: exact GELU, y = x · Φ(x) = x/2 · (1 + erf(x/√2)), with
// dx = dy · (Φ(x) + x · φ(x)); or QuickGELU / tanh-GELU (see config.hpp: Activation).
// (Inference fuses it into the preceding matmul; training keeps the pre-activation for the backward.)
#pragma once
#include <unordered_map>

#include "model/layers/dnn.hpp"

namespace vit::layers {

class Gelu {
public:
    Gelu() = default;
    explicit Gelu(int64_t n, Activation act = Activation::Gelu);
    void forward(const float* x, float* y);
    void backward(const float* x, const float* dy, float* dx);
    // AttnLRP's identity rule: the activation read as a per-element gain y / x held constant, so
    // dx = dy · y / x (1/2, the gain's limit at 0 for GELU, QuickGELU and tanh-GELU, where x = 0).
    // x, y, dy, dx of n elements.
    static void identity_rule(const float* x, const float* y, const float* dy, float* dx, int64_t n);

private:
    dnnl::eltwise_forward fwd_;
    dnnl::eltwise_backward bwd_;
    dnnl::memory x_, y_, bx_, bdy_, bdx_;
    std::unordered_map<int, dnnl::memory> args_, bargs_;
};

}  // namespace vit::layers
