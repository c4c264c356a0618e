// Softmax over the last axis of a dense tensor (attention rows), and its backward
// dx = y ⊙ (dy − Σ_j dy_j y_j).
#pragma once
#include <unordered_map>

#include "vit/layers/dnn.hpp"

namespace vit::layers {

class Softmax {
public:
    Softmax() = default;
    explicit Softmax(const dims& shape, bool backward = false);
    void forward(const float* x, float* y);  // may be in place
    void backward(const float* y, const float* dy, float* dx);

private:
    dnnl::softmax_forward prim_;
    dnnl::softmax_backward bwd_;
    dnnl::memory src_, dst_, by_, bdy_, bdx_;
    std::unordered_map<int, dnnl::memory> args_, bargs_;
};

}  // namespace vit::layers
