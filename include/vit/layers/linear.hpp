// Fully connected layer in PyTorch's convention, y (M, out) = x (M, in) · W (out, in)ᵀ + b, with its
// backward: dx = dy · W, dW += dyᵀ · x, db += Σ_rows dy. All four products are oneDNN matmuls planned
// in the constructor; PyTorch's (out, in) storage is read through strided views, never copied.
#pragma once
#include <vector>

#include "vit/layers/matmul.hpp"

namespace vit::layers {

class Linear {
public:
    Linear() = default;
    Linear(int64_t rows, int64_t in, int64_t out, bool bias, Epilogue ep = Epilogue::None, bool backward = false,
           Activation act = Activation::Gelu);

    // x (M, in), w (out, in), b (out) or null -> y (M, out)
    void forward(const float* x, const float* w, const float* b, float* y);
    // dy (M, out). Writes dx (M, in) unless dx is null; accumulates dw (out, in) and db (out).
    void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db);

private:
    Matmul fwd_, bwd_data_, bwd_weights_, bwd_bias_;
    std::vector<float> ones_;  // (1, M): the bias gradient is the product ones · dy
};

}  // namespace vit::layers
