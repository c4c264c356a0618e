// timm's photo crop for training: RandomResizedCropAndInterpolation, which samples its box as
// torchvision's RandomResizedCrop.get_params does and then resizes the box with PIL (F.resized_crop).
//
// The box: up to 10 attempts, each drawing an area fraction s ~ U(scale) of the image and an aspect
// ratio r = exp(U(log ratio)), giving w = round(sqrt(s * area * r)), h = round(sqrt(s * area / r))
// (Python's round, half to even); the first that fits the image is placed uniformly at random. When
// none fits, the fallback is the centre crop with the ratio clamped to the allowed range (the whole
// image when its own ratio is inside it). Then the box is resized to the model's size with the chosen
// interpolation; "random" picks bilinear or bicubic with a coin per image, as timm does.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "vit/image/interpolation.hpp"

namespace vit {

enum class TrainInterpolation { Bilinear, Bicubic, Random };
const char* to_string(TrainInterpolation i);                        // "bilinear" | "bicubic" | "random"
TrainInterpolation parse_train_interpolation(const std::string& s);  // those names; ConfigError otherwise

struct ResizedCrop {
    bool enabled = false;
    std::pair<double, double> scale{0.08, 1.0};          // area fraction (timm's --scale)
    std::pair<double, double> ratio{3.0 / 4.0, 4.0 / 3.0};  // aspect ratio w / h (timm's --ratio)
    TrainInterpolation interpolation = TrainInterpolation::Random;

    // Throws FieldError naming scale or ratio: 0 < scale.first <= scale.second <= 1 and
    // 0 < ratio.first <= ratio.second.
    void validate() const;
};

// A crop box in the source image (rows [top, top + height), columns [left, left + width)) and the
// filter its resize uses.
struct CropBox {
    int top = 0, left = 0, height = 0, width = 0;
    Interpolation interpolation = Interpolation::Bilinear;
};

// The box for an image of height x width pixels, from a generator seeded by `seed`.
CropBox sample_resized_crop(const ResizedCrop& rc, int height, int width, uint64_t seed);

}  // namespace vit
