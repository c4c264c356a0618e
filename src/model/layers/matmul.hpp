// General (batched, strided) matrix product on oneDNN: dst = scale * (src · wei) [+ bias] [then act]
// [+ dst]. Views carry dims, strides and number format, so transposes and per-head slices of a fused
// qkv buffer are free, and bf16 operands accumulate in f32. The primitive is built once in the
// constructor; run() only binds pointers. Packed weights are stored in the layout oneDNN's kernel
// prefers (blocked, chosen by oneDNN): pack() converts a row-major f32 matrix into it once.
#pragma once
#include <unordered_map>

#include "model/layers/dnn.hpp"

namespace vit::layers {

struct View {
    dims shape;          // (..., rows, cols)
    dims strides;        // in elements; empty = dense row-major
    dt type = dt::f32;   // f32 or bf16; int8 products: u8 src, s8 wei, s32 dst (bias is always f32)
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
    // packed: the weights are read in the layout oneDNN picks for wei's shape and type; run() then
    // takes memory made by pack().
    Matmul(const View& src, const View& wei, const View& dst, bool bias, Epilogue ep = Epilogue::None,
           float scale = 1.0f, Activation act = Activation::Gelu, bool packed = false);
    // Pointers to data of each view's type.
    void run(const void* src, const void* wei, const float* bias, void* dst);
    // The weights w, of from.type as described by `from` (same shape as wei), converted into new memory
    // of the packed layout and type. Needs a Matmul built with packed = true.
    dnnl::memory pack(const void* w, const View& from) const;
    const char* impl() const;  // oneDNN implementation name, for checks that no reference kernel runs

private:
    dnnl::matmul::primitive_desc pd_;
    dnnl::matmul prim_;
    dnnl::memory src_, wei_, bias_, dst_;
    std::unordered_map<int, dnnl::memory> args_;
    bool has_bias_ = false;
};

}  // namespace vit::layers
