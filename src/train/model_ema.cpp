#include "vit/train/model_ema.hpp"

#include <string>

#include "vit/util/error.hpp"

namespace vit {

ModelEma::ModelEma(const Model& model, float decay) : decay_(decay), ema_(model) {
    if (!(decay >= 0.0f && decay < 1.0f))
        throw ConfigError("model EMA decay must be in [0, 1), got " + std::to_string(decay));
}

void ModelEma::update(const Parameters& weights) {
    Parameters& ema = ema_.params();
    if (weights.size() != ema.size())
        throw ShapeError("model EMA: the weights have " + std::to_string(weights.size()) + " values, the average " +
                         std::to_string(ema.size()));
    // timm: ema_v = decay * ema_v + (1 - decay) * model_v, in the weights' precision.
    const float d = decay_, w = 1.0f - decay_;
    float* e = ema.data();
    const float* p = weights.data();
    const int64_t n = static_cast<int64_t>(ema.size());
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) e[i] = d * e[i] + w * p[i];
}

}  // namespace vit
