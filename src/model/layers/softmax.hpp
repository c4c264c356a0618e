// Softmax over the last axis of a dense tensor (attention rows), and its backward
// dx = y ⊙ (dy − Σ_j dy_j y_j). The forward may write bf16 (inference): max, exponentials and sum in
// f32, only the probabilities rounded.
#pragma once
#include <cstdint>
#include <unordered_map>

#include "model/layers/dnn.hpp"

namespace vit::layers {

class Softmax {
public:
    Softmax() = default;
    // dst: the type of y, f32 or (without backward) bf16.
    explicit Softmax(const dims& shape, bool backward = false, dt dst = dt::f32);
    void forward(const float* x, void* y);  // may be in place (f32)
    void backward(const float* y, const float* dy, float* dx);

private:
    // The f32 forward runs a kernel of our own where the CPU has AVX-512 (rows_ > 0: the rows of
    // cols_ values), oneDNN's softmax elsewhere.
    int64_t rows_ = 0;
    int cols_ = 0;
    dnnl::primitive prim_;  // softmax_forward, or softmax_v2_forward for a bf16 destination
    dnnl::softmax_backward bwd_;
    dnnl::memory src_, dst_, by_, bdy_, bdx_;
    std::unordered_map<int, dnnl::memory> args_, bargs_;
};

}  // namespace vit::layers
