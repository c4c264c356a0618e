// Automatic augmentation policies on 8-bit images before normalisation, drawn per image:
//
//   RandAugment as timm's rand_augment_transform ("rand-m9-mstd0.5-inc1"): num_layers operations
//   chosen uniformly with replacement from timm's 15 (_RAND_TRANSFORMS, or _RAND_INCREASING_TRANSFORMS
//   with inc), each applied with probability prob at magnitude m (of 10), optionally jittered by a
//   normal of std mstd (uniform in [0, m] for mstd > 100) and clipped to [0, mmax]; geometric
//   operations sample bilinearly or bicubically (a coin per operation, timm's 'random' interpolation)
//   and fill with the dataset mean.
//   TrivialAugmentWide as torchvision's: one of 14 operations with one of 31 magnitudes, signed by a
//   coin; geometric operations sample the nearest pixel and fill with black.
//
// Config strings: "rand-<sections>" with sections m<int> (magnitude, default 10), n<int> (layers, 2),
// p<float> (probability per layer, 0.5), mstd<float> (0), mmax<int> (10), inc<int> (increasing
// severity; as in timm any value switches it on, inc0 included); "trivial"; "" or "none" for off.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vit/image/geometry.hpp"

namespace vit {

enum class AugmentOp {
    Identity, AutoContrast, Equalize, Invert, Rotate, Posterize, Solarize, SolarizeAdd,
    Color, Contrast, Brightness, Sharpness, ShearX, ShearY, TranslateX, TranslateY
};

// One operation with its argument, as timm's aug_fn receives it: degrees (Rotate), bits (Posterize),
// threshold (Solarize), the amount added below 128 (SolarizeAdd), the blend factor (enhancements),
// the shear factor, or the shift in pixels (translations; timm's TranslateXRel gives pct * width).
struct AugmentCall {
    AugmentOp op = AugmentOp::Identity;
    double arg = 0;
    Interpolation resample = Interpolation::Nearest;
};

enum class AutoAugmentKind { None, Rand, TrivialWide };

struct AutoAugment {
    AutoAugmentKind kind = AutoAugmentKind::None;
    // RandAugment's settings (timm's defaults).
    int magnitude = 10, num_layers = 2, magnitude_max = 10;
    float prob = 0.5f;
    double magnitude_std = 0;  // infinity: uniform in [0, magnitude]
    bool increasing = false;
    bool enabled() const { return kind != AutoAugmentKind::None; }
};

// Throws ConfigError quoting the string and naming the section it cannot read.
AutoAugment parse_auto_augment(const std::string& config);

// The operations one image gets, from a generator seeded by `seed`, for an image of that size.
std::vector<AugmentCall> draw_auto_augment(const AutoAugment& aa, uint64_t seed, int height, int width);

// Applies one operation in place; geometric ones fill with `fill` (one value per channel) and use
// `scratch` as their output buffer.
void apply_augment(const AugmentCall& call, uint8_t* img, int height, int width, int channels, const uint8_t* fill,
                   std::vector<uint8_t>& scratch);

}  // namespace vit
