// The one resampling filter enum of the library: PIL's filters, used by the preprocessing resize (PIL's
// antialiased bilinear and bicubic) and by the augmentations' affine transforms (nearest, bilinear and
// bicubic as PIL's Geometry.c samples them).
#pragma once
#include <string>

namespace vit {

enum class Interpolation { Nearest, Bilinear, Bicubic };

const char* to_string(Interpolation i);                   // "nearest" | "bilinear" | "bicubic"
Interpolation parse_interpolation(const std::string& s);  // those names; ConfigError otherwise

}  // namespace vit
