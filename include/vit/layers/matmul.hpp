// General (batched, strided) matrix product on oneDNN: dst = scale * (src · wei) [+ bias] [then act]
// [+ dst]. Views carry dims and strides, so transposes and per-head slices of a fused qkv buffer are
// free. The primitive is built once in the constructor; run() only binds pointers.
#pragma once
#include <unordered_map>

#include "vit/layers/dnn.hpp"

namespace vit::layers {

struct View {
    dims shape;    // (..., rows, cols)
    dims strides;  // in elements; empty = dense row-major
};

enum class Epilogue {
    None,
    Activate,   // dst = act(src · wei + bias), act the MLP's activation (exact GELU by default)
    Accumulate  // dst += src · wei + bias (residual connection, gradient accumulation)
};

class Matmul {
public:
    Matmul() = default;
    // bias: broadcast over rows, length = dst cols (only 2-D products use it).
    Matmul(const View& src, const View& wei, const View& dst, bool bias, Epilogue ep = Epilogue::None,
           float scale = 1.0f, Activation act = Activation::Gelu);
    void run(const float* src, const float* wei, const float* bias, float* dst);
    const char* impl() const;  // oneDNN implementation name, for checks that no reference kernel runs

private:
    dnnl::matmul::primitive_desc pd_;
    dnnl::matmul prim_;
    dnnl::memory src_, wei_, bias_, dst_;
    std::unordered_map<int, dnnl::memory> args_;
    bool has_bias_ = false;
};

}  // namespace vit::layers
