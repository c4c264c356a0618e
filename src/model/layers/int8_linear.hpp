// Fully connected layer y = x · Wᵀ + b for int8 inference (dtype.hpp: Dtype::Int8), by dynamic
// quantisation, finer than ONNX Runtime's quantize_dynamic (one scale per output channel and per row):
//
//   W (out, in) ≈ diag(sw) · Wq     Wq signed 8-bit, symmetric, sw_c = max_k |W_ck| / L;
//                                   once, in pack(); L = 127 with VNNI, 63 without (below)
//   x (M, in)   ≈ low 1ᵀ + diag(sa) · Xq     Xq unsigned 8-bit, one grid per row (quantize.hpp); at run time
//   acc = Xq · Wqᵀ                  int32, oneDNN's u8 x s8 -> s32 matmul, one primitive per shape
//   y_rc = sa_r · (sw_c · acc_rc) + low_r · (sw_c · Σ_k Wq_ck) + b_c
//
// The last line is our own epilogue, one vectorised pass over acc. oneDNN 2.6's fast int8 kernel
// (brg:avx512_core_vnni) takes output scales only as constants fixed when the primitive is created, per
// column at most: run-time scales send the product to a slower kernel (gemm:jit) and per-row scales,
// also as a per-row binary post-op, to the reference one (ref_int8), so the per-row factor cannot go in.
//
// Without VNNI (AVX2, AVX512_CORE) oneDNN multiplies u8 by s8 with vpmaddubsw, which adds each pair of
// products into a saturating int16: 2 · 255 · 127 = 64770 overflows it, and the products come out
// wrong by whole units. With weights on 7 bits (|Wq| <= 63), 2 · 255 · 63 = 32130 always fits: the same
// choice as ONNX Runtime's reduce_range for CPUs without VNNI, at half the weight resolution.
//
// Epilogues: None writes y (f32, or bf16 for a product that only feeds bf16 attention); Accumulate adds
// into y (f32, the residual stream); Activate applies the
// MLP's activation and quantises each row for the next int8 Linear at once, so the MLP's hidden layer
// never exists in f32 in memory (one f32 row per thread, in cache).
#pragma once
#include <vector>

#include "model/layers/matmul.hpp"
#include "model/layers/quantize.hpp"
#include "util/aligned.hpp"

namespace vit::layers {

// The weights W (out, in) on a symmetric grid per output channel: Wq_ck = round(W_ck / sw_c), with
// sw_c = max_k |W_ck| / levels. Shared by Int8Linear::pack and the int8 ONNX export.
struct QuantizedWeights {
    std::vector<std::int8_t> q;  // (out, in) row-major
    std::vector<float> scale;    // (out) sw_c
    std::vector<float> sum;      // (out) sw_c · Σ_k Wq_ck
};
QuantizedWeights quantize_weights(const float* w, int64_t out, int64_t in, int levels);
// The levels a side this CPU's int8 products take without error: 127 with VNNI, 63 without (above).
int int8_weight_levels();

// A Linear's parameters as the int8 forward reads them (Int8Linear::pack).
struct Int8Weights {
    dnnl::memory q;            // Wq (out, in) in the blocked s8 layout oneDNN's kernel reads
    std::vector<float> scale;  // (out) sw_c
    std::vector<float> sum;    // (out) sw_c · Σ_k Wq_ck: what the row offset low_r is multiplied by
    std::vector<float> bias;   // (out) b_c, zeros for a Linear without bias
};

class Int8Linear {
public:
    Int8Linear() = default;
    // y_type: the type of y with Epilogue::None, f32 or bf16 (f32 otherwise).
    Int8Linear(int64_t rows, int64_t in, int64_t out, Epilogue ep = Epilogue::None, Activation act = Activation::Gelu,
               dt y_type = dt::f32);

    // w (out, in) f32, b (out) or null -> the quantised weights, their scales and sums, the bias.
    Int8Weights pack(const float* w, const float* b) const;
    // L of the weight grid: 127 where the CPU has VNNI, 63 where int16 sums would saturate.
    int weight_levels() const { return levels_; }
    // x (rows, in) quantised, acc an int32 scratch of (rows, out) -> y (rows, out) of the planned type,
    // written (None) or added to (Accumulate).
    void forward(const QuantizedRows& x, const Int8Weights& w, std::int32_t* acc, void* y);
    // Activate: y = act(x · Wᵀ + b) quantised per row, (rows, out).
    void forward(const QuantizedRows& x, const Int8Weights& w, std::int32_t* acc, QuantizedRows& y);
    const char* impl() const { return mm_.impl(); }

private:
    Matmul mm_;  // Xq (rows, in) u8 · Wqᵀ (in, out) s8 -> acc (rows, out) s32
    int64_t rows_ = 0, in_ = 0, out_ = 0;
    Epilogue ep_ = Epilogue::None;
    Activation act_ = Activation::Gelu;
    dt y_type_ = dt::f32;
    // Threads the row scratch is sized for (OpenMP's count when planned); the loops use at most these.
    int threads_ = 1;
    int levels_ = 127;
    AlignedVector<float> row_;  // Activate: one f32 row per thread, each on a 64-byte boundary
};

}  // namespace vit::layers
