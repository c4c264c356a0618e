// torchvision's ColorJitter on 8-bit images, as timm's training transform uses it (--color-jitter 0.4
// gives brightness, contrast and saturation factors each uniform in [0.6, 1.4]): the three enhancements
// (PIL's ImageEnhance.Brightness, Contrast and Color) in a random order, each with its own factor.
// Hue is not offered; timm's default leaves it at 0.
#pragma once
#include <cstdint>

namespace vit {

struct ColorJitter {
    float brightness = 0, contrast = 0, saturation = 0;  // factor range [max(0, 1 - v), 1 + v]; 0: off
    bool enabled() const { return brightness > 0 || contrast > 0 || saturation > 0; }
    void validate() const;  // FieldError unless every value is in [0, 1]
};

// Jitters img, (height, width, channels) 8-bit, in place, with draws from a generator seeded by `seed`.
void color_jitter(const ColorJitter& cj, uint64_t seed, uint8_t* img, int height, int width, int channels);

}  // namespace vit
