// Fully connected layer in PyTorch's convention, y (M, out) = x (M, in) · W (out, in)ᵀ + b, with its
// backward: dx = dy · W, dW += dyᵀ · x, db += Σ_rows dy. The three products are oneDNN matmuls planned
// in the constructor (db is a column sum of our own); PyTorch's (out, in) storage is read through
// strided views, never copied.
// Inference may run the forward in bf16 (LinearTypes): then the weights are converted once by pack()
// into the blocked bf16 layout oneDNN's kernel prefers, and forward() takes that memory's data.
// Training in bf16 (mixed precision, as PyTorch's autocast) runs all three products with bf16 inputs
// and f32 accumulation: the forward and dx read a row-major bf16 copy of W (the caller's, refreshed
// once per step), dW reads the bf16 x saved by the forward, and dy is rounded to bf16 once per call
// into the layer's own scratch, in the pass that sums db's columns; dW and db accumulate in f32, db
// from the f32 dy.
#pragma once
#include <vector>

#include "model/layers/matmul.hpp"

namespace vit::layers {

// Number formats of the forward's input x and output y, f32 or bf16. A bf16 input means bf16 weights:
// packed for inference, row-major (out, in) with a backward; accumulation and bias are f32 either way.
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
    // dy (M, out) f32. Writes dx (M, in) unless dx is null; accumulates dw (out, in) and db (out), all f32.
    // x and w as the forward read them (with a bf16 input: x bf16, w the row-major bf16 copy).
    void backward(const void* x, const void* w, const float* dy, float* dx, float* dw, float* db);
    // w (out, in) f32 in the layout and type the forward reads (bf16 forwards only).
    dnnl::memory pack(const float* w) const;
    const char* impl() const { return fwd_.impl(); }

private:
    View w_;  // W (out, in) row-major read as the (in, out) right operand
    int64_t rows_ = 0, out_ = 0;
    Matmul fwd_, bwd_data_, bwd_weights_;
    int64_t chunks() const;
    void sum_and_round(const float* dy, float* db, Bf16* dy16);
    std::vector<Bf16> dy16_;      // (M, out): dy rounded, for a bf16 backward
    std::vector<float> col_part_; // (row chunks, out): the bias gradient's partial column sums
};

}  // namespace vit::layers
