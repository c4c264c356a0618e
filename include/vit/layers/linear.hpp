// Fully connected layer in PyTorch's convention, y (M, out) = x (M, in) · W (out, in)ᵀ + b, with its
// backward: dx = dy · W, dW += dyᵀ · x, db += Σ_rows dy. All four products are oneDNN matmuls planned
// in the constructor; PyTorch's (out, in) storage is read through strided views, never copied.
// Inference may run the forward in bf16 (LinearTypes): then the weights are converted once by pack()
// into the blocked bf16 layout oneDNN's kernel prefers, and forward() takes that memory's data.
#pragma once
#include <vector>

#include "vit/layers/matmul.hpp"

namespace vit::layers {

// Number formats of the forward's input x and output y, f32 or bf16. A bf16 input means bf16 packed
// weights; accumulation and bias are f32 either way.
struct LinearTypes {
    dt x = dt::f32;
    dt y = dt::f32;
};

class Linear {
public:
    Linear() = default;
    Linear(int64_t rows, int64_t in, int64_t out, bool bias, Epilogue ep = Epilogue::None, bool backward = false,
           Activation act = Activation::Gelu, LinearTypes types = {});

    // x (M, in), w (out, in) f32 or the data of pack(w), b (out) or null -> y (M, out); x and y of the
    // planned types.
    void forward(const void* x, const void* w, const float* b, void* y);
    // dy (M, out). Writes dx (M, in) unless dx is null; accumulates dw (out, in) and db (out).
    void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db);
    // w (out, in) f32 in the layout and type the forward reads (bf16 forwards only).
    dnnl::memory pack(const float* w) const;
    const char* impl() const { return fwd_.impl(); }

private:
    View w_;  // W (out, in) row-major read as the (in, out) right operand
    Matmul fwd_, bwd_data_, bwd_weights_, bwd_bias_;
    std::vector<float> ones_;  // (1, M): the bias gradient is the product ones · dy
};

}  // namespace vit::layers
