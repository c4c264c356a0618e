// Random erasing (Zhong et al. 2017) as timm's RandomErasing (timm/data/random_erasing.py), applied to
// one normalised image: with probability prob, up to max_attempts tries of a rectangle with an area
// fraction uniform in [min_area, max_area] and a log aspect ratio (h / w) uniform in
// [log min_aspect, -log min_aspect]; h = round(sqrt(area * aspect)), w = round(sqrt(area / aspect))
// (Python's round: half to even); the first that fits strictly inside the image is placed uniformly
// and filled with standard-normal noise ('pixel'), one normal value per channel ('rand') or zeros
// ('const', the mean after normalisation).
#pragma once
#include <string>
#include <cstdint>

#include "vit/data/augment/mixup.hpp"  // CutBox

namespace vit {

// What an erased rectangle is filled with, as timm's --remode: zeros ("const"), one normal draw per
// rectangle ("rand") or one per pixel ("pixel").
enum class EraseMode { Const, Rand, Pixel };
const char* to_string(EraseMode m);                 // "const" | "rand" | "pixel"
EraseMode parse_erase_mode(const std::string& s);  // those names; ConfigError otherwise

struct RandomErasing {
    float prob = 0.0f;  // timm's --reprob; 0: off
    EraseMode mode = EraseMode::Pixel;  // timm's --remode default
    float min_area = 0.02f, max_area = 1.0f / 3.0f;
    float min_aspect = 0.3f;  // the largest aspect is 1 / min_aspect
    int max_attempts = 10;
    // Throws ConfigError naming the field for a probability outside [0, 1], areas outside
    // 0 < min_area <= max_area <= 1, or min_aspect outside (0, 1].
    void validate() const;
};

// Erases at most one rectangle of image (C, H, W) with draws from a generator seeded by `seed`.
// Returns the rectangle erased (area 0: none).
CutBox random_erase(const RandomErasing& cfg, uint64_t seed, float* image, int channels, int height, int width);

}  // namespace vit
