#include "vit/image/interpolation.hpp"

#include "vit/util/error.hpp"

namespace vit {

const char* to_string(Interpolation i) {
    switch (i) {
    case Interpolation::Nearest: return "nearest";
    case Interpolation::Bilinear: return "bilinear";
    case Interpolation::Bicubic: return "bicubic";
    }
    return "?";
}

Interpolation parse_interpolation(const std::string& s) {
    if (s == "nearest") return Interpolation::Nearest;
    if (s == "bilinear") return Interpolation::Bilinear;
    if (s == "bicubic") return Interpolation::Bicubic;
    throw ConfigError("unknown interpolation '" + s + "' (expected nearest, bilinear or bicubic)");
}

}  // namespace vit
