// The image operations of timm's RandAugment and torchvision's TrivialAugmentWide on 8-bit images
// (H, W, C) with C = 1 or 3, reproducing PIL 9's results (timm applies them to PIL images):
// lookup tables, ImageEnhance blends and the affine transform with PIL's nearest, bilinear and
// bicubic filters (Geometry.c), rounding included.
#pragma once
#include <cstdint>

#include "vit/image/interpolation.hpp"

namespace vit {

// PIL's Image.transform(size, AFFINE, (a, b, c, d, e, f)): output pixel (x, y) samples the input at
// (a (x + 0.5) + b (y + 0.5) + c, d (x + 0.5) + e (y + 0.5) + f), pixel centres at half-integers;
// positions outside the input take `fill` (one value per channel). src and dst must not overlap.
void affine_transform(const uint8_t* src, uint8_t* dst, int height, int width, int channels, const double m[6],
                      Interpolation resample, const uint8_t* fill);

// PIL's Image.rotate(degrees) (counter-clockwise, about the image centre, same size) as the affine
// matrix affine_transform takes.
void rotation_matrix(double degrees, int height, int width, double m[6]);

// Per-channel lookup tables, in place.
void invert(uint8_t* img, int height, int width, int channels);                       // 255 - v
void posterize(uint8_t* img, int height, int width, int channels, int bits);          // keep the top `bits` bits
void solarize(uint8_t* img, int height, int width, int channels, double threshold);   // v >= threshold -> 255 - v
void solarize_add(uint8_t* img, int height, int width, int channels, int add, int threshold);  // v < threshold -> min(255, v + add)
// ImageOps.autocontrast (cutoff 0): each channel stretched from [min, max] to [0, 255].
void auto_contrast(uint8_t* img, int height, int width, int channels);
// ImageOps.equalize: each channel's histogram flattened.
void equalize(uint8_t* img, int height, int width, int channels);

// ImageEnhance: Image.blend(degenerate, img, factor) = degenerate + factor (img - degenerate), in
// float, truncated and clipped to [0, 255], with degenerate
//   color       the image in grey (PIL's "L" conversion)
//   contrast    the mean grey level of the image, rounded
//   brightness  black
//   sharpness   the image smoothed by PIL's SMOOTH kernel ([1 1 1; 1 5 1; 1 1 1] / 13; border pixels
//               kept)
void enhance_color(uint8_t* img, int height, int width, int channels, float factor);
void enhance_contrast(uint8_t* img, int height, int width, int channels, float factor);
void enhance_brightness(uint8_t* img, int height, int width, int channels, float factor);
void enhance_sharpness(uint8_t* img, int height, int width, int channels, float factor);

}  // namespace vit
