// An exponential moving average of a model's weights, as timm's ModelEmaV2: after every optimizer
// step ema = decay * ema + (1 - decay) * w, element by element. The average starts as a copy of the
// weights it follows (timm deep-copies the model before the first step) and is itself a Model, so it
// is evaluated and saved like any other.
#pragma once
#include "vit/model/model.hpp"

namespace vit {

class ModelEma {
public:
    // Throws ConfigError unless decay is in [0, 1).
    ModelEma(const Model& model, float decay);

    // One averaging step towards `weights` (the live model's parameters, same layout).
    void update(const Parameters& weights);

    float decay() const { return decay_; }
    Model& model() { return ema_; }
    const Model& model() const { return ema_; }

private:
    float decay_;
    Model ema_;
};

}  // namespace vit
