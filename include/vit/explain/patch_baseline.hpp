// What a removed patch becomes, for occlusion maps and the deletion/insertion curves of faithfulness:
//   Zero  0 in normalised pixels, i.e. the dataset's mean colour (the images are normalised by it);
//   Mean  the image's own mean colour, per channel;
//   Blur  the image blurred by a Gaussian of sigma = one patch side, per channel: what is left is the
//         image's coarse layout without the detail a patch holds (Petsiuk et al. 2018 insert into a
//         blurred image for the same reason: a flat colour is far from every natural image).
#pragma once
#include "vit/model/config.hpp"

namespace vit {

enum class Baseline { Zero, Mean, Blur };

const char* to_string(Baseline b);

// out (n, C, H, W) receives the baseline images of x (n, C, H, W) at the model's input size.
void baseline_images(const ViTConfig& cfg, Baseline b, const float* x, int n, float* out);

// Copies patch `patch` (row-major over the patch grid), every channel, from the image src into the
// image dst, both (C, H, W) at the model's input size: how occlusion removes a patch and the curves
// of faithfulness remove or insert one.
void copy_patch(const ViTConfig& cfg, int patch, const float* src, float* dst);

}  // namespace vit
