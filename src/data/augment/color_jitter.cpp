#include "vit/data/augment/color_jitter.hpp"

#include <algorithm>
#include <random>
#include <utility>
#include <sstream>

#include "data/random.hpp"
#include "vit/image/geometry.hpp"
#include "vit/util/error.hpp"

namespace vit {

void ColorJitter::validate() const {
    for (auto [field, v] : {std::pair{"brightness", brightness}, std::pair{"contrast", contrast},
                            std::pair{"saturation", saturation}})
        if (!(v >= 0 && v <= 1)) {
            std::ostringstream got;
            got << v;
            throw FieldError("ColorJitter", field, "must be in [0, 1]", got.str());
        }
}

void color_jitter(const ColorJitter& cj, uint64_t seed, uint8_t* img, int height, int width, int channels) {
    std::mt19937_64 rng(seed);
    // torchvision draws the order first (a permutation of the operations), then one factor per
    // operation in the fixed order brightness, contrast, saturation.
    int order[3] = {0, 1, 2};
    data_detail::shuffle(order, 3, rng);
    float factor[3];
    const float range[3] = {cj.brightness, cj.contrast, cj.saturation};
    for (int k = 0; k < 3; ++k) {
        const double lo = std::max(0.0, 1.0 - double(range[k])), hi = 1.0 + double(range[k]);
        factor[k] = static_cast<float>(lo + (hi - lo) * data_detail::uniform01(rng));
    }
    for (int k : order) {
        if (range[k] <= 0) continue;
        switch (k) {
            case 0: enhance_brightness(img, height, width, channels, factor[k]); break;
            case 1: enhance_contrast(img, height, width, channels, factor[k]); break;
            default: enhance_color(img, height, width, channels, factor[k]); break;
        }
    }
}

}  // namespace vit
