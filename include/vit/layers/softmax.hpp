// Softmax over the last axis of a dense tensor (attention rows).
#pragma once
#include <unordered_map>

#include "vit/layers/dnn.hpp"

namespace vit::layers {

class Softmax {
public:
    Softmax() = default;
    explicit Softmax(const dims& shape);
    void forward(const float* x, float* y);  // may be in place

private:
    dnnl::softmax_forward prim_;
    dnnl::memory src_, dst_;
    std::unordered_map<int, dnnl::memory> args_;
};

}  // namespace vit::layers
