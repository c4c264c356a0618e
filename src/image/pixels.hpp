// Per-pixel arithmetic on 8-bit images shared by the preprocessing, the dataset readers and the batch
// loader, written once so that a model sees the same values whichever path fed it.
#pragma once
#include <cstdint>

namespace vit {

// PIL's "L" conversion (Convert.c, L24): ITU-R 601-2 luma with the weights 0.299, 0.587 and 0.114
// in 16-bit fixed point (19595 + 38470 + 7471 = 65536, so white stays 255), rounded to nearest by
// adding half before the shift.
inline uint8_t pil_luma(uint8_t r, uint8_t g, uint8_t b) {
    return static_cast<uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

// torchvision's ToTensor then Normalize on one 8-bit value: v / 255, then (x - mean) / std, both in
// float32 and in that order, so that the result matches PyTorch's to the last bit.
inline float normalise_pixel(uint8_t v, float mean, float std) {
    return (static_cast<float>(v) / 255.0f - mean) / std;
}

}  // namespace vit
