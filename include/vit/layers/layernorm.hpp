// LayerNorm over the last dimension of a (rows, C) matrix: y = (x - mean) / sqrt(var + eps) * gamma + beta,
// with the biased variance, as PyTorch. Forward keeps mean and variance when asked (training).
#pragma once
#include <unordered_map>

#include "vit/layers/dnn.hpp"

namespace vit::layers {

class LayerNorm {
public:
    LayerNorm() = default;
    LayerNorm(int64_t rows, int64_t channels, float eps, bool training = false);
    // x, y: (rows, C); gamma, beta: (C); mean, var: (rows), written only when training.
    void forward(const float* x, const float* gamma, const float* beta, float* y, float* mean = nullptr,
                 float* var = nullptr);

private:
    dnnl::layer_normalization_forward prim_;
    dnnl::memory src_, dst_, scale_, shift_, mean_, var_;
    std::unordered_map<int, dnnl::memory> args_;
    bool training_ = false;
};

}  // namespace vit::layers
