// LayerNorm over the last dimension of a (rows, C) matrix: y = (x - mean) / sqrt(var + eps) * gamma + beta,
// with the biased variance, as PyTorch. In training the forward keeps mean and variance per row and the
// backward gives dx and accumulates dgamma, dbeta. For bf16 matmuls the output may be bf16: then one
// pass of our own computes in f32 and rounds y for the next matmul (in training it also writes mean and
// variance, and the backward, which reads x and those, is oneDNN's f32 one) (oneDNN 2.6's LayerNorm writes its
// input's type only, and an f32 result plus a conversion would cost two more passes over memory).
// For int8 inference the output is quantised per row (quantize.hpp) in the same pass, each row
// normalised into a per-thread f32 row in cache first.
#pragma once
#include <unordered_map>
#include <vector>

#include "model/layers/quantize.hpp"

namespace vit::layers {

class LayerNorm {
public:
    LayerNorm() = default;
    // out: the type of y, f32 or bf16 (also in training), or u8 (quantised rows, inference only).
    LayerNorm(int64_t rows, int64_t channels, float eps, bool training = false, dt out = dt::f32);
    // x, y: (rows, C), y of the planned type; gamma, beta: (C); mean, var: (rows), written only in training.
    void forward(const float* x, const float* gamma, const float* beta, void* y, float* mean = nullptr,
                 float* var = nullptr);
    // Planned with out = u8: y (rows, C) quantised per row.
    void forward(const float* x, const float* gamma, const float* beta, QuantizedRows& y);
    // dy (rows, C) -> dx (rows, C) written; dgamma, dbeta (C) accumulated.
    void backward(const float* x, const float* mean, const float* var, const float* gamma, const float* dy, float* dx,
                  float* dgamma, float* dbeta);
    // The backward with the normalisation scale held constant (AttnLRP's identity rule for LayerNorm):
    // y = (x - mean) · r · gamma + beta with r = 1/sqrt(var + eps) frozen is linear in x, so
    // dx = r · (g - mean(g)), g = gamma ⊙ dy. var (rows) from a training forward; dx written.
    void backward_fixed_scale(const float* var, const float* gamma, const float* dy, float* dx) const;

private:
    dnnl::layer_normalization_forward prim_;
    dnnl::layer_normalization_backward bwd_;
    dnnl::memory src_, dst_, scale_, shift_, mean_, var_;
    dnnl::memory bsrc_, bmean_, bvar_, bscale_, bdiff_dst_, bdiff_src_, bdiff_scale_, bdiff_shift_;
    std::unordered_map<int, dnnl::memory> args_, bargs_;
    std::vector<float> dgamma_, dbeta_;  // the primitive overwrites; we accumulate
    bool training_ = false;
    int64_t rows_ = 0, channels_ = 0;
    float eps_ = 0;
    dt out_ = dt::f32;
    // Threads the row scratch is sized for (OpenMP's count when planned); the loops use at most these.
    int threads_ = 1;
    std::vector<float> row_;  // u8 output: one f32 row per thread
};

}  // namespace vit::layers
