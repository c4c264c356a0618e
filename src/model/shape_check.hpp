// The check every entry point that takes images as a tensor makes before any work, so that a wrong
// tensor fails with both shapes in the message rather than deep inside a layer.
#pragma once
#include <string>

#include "vit/model/config.hpp"
#include "vit/util/tensor.hpp"

namespace vit {

// Throws ShapeError "<what> has shape [...], expected [N, C, H, W]" (C, H and W the model's in_chans,
// img_h and img_w) unless x has that shape with at least one image.
void check_input_shape(const Tensor& x, const ViTConfig& c, const std::string& what);

}  // namespace vit
