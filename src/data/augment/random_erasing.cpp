#include "vit/data/augment/random_erasing.hpp"

#include <cmath>
#include <string>

#include "data/random.hpp"
#include "vit/util/error.hpp"

namespace vit {

const char* to_string(EraseMode m) {
    switch (m) {
    case EraseMode::Const: return "const";
    case EraseMode::Rand: return "rand";
    case EraseMode::Pixel: return "pixel";
    }
    return "?";
}

EraseMode parse_erase_mode(const std::string& s) {
    for (EraseMode m : {EraseMode::Pixel, EraseMode::Rand, EraseMode::Const})
        if (s == to_string(m)) return m;
    throw ConfigError("unknown erase mode '" + s + "' (expected pixel, rand or const)");
}

void RandomErasing::validate() const {
    if (!(prob >= 0.0f && prob <= 1.0f))
        throw ConfigError("RandomErasing::prob must be in [0, 1], got " + std::to_string(prob));
    if (!(min_area > 0.0f && min_area <= max_area && max_area <= 1.0f))
        throw ConfigError("RandomErasing: need 0 < min_area <= max_area <= 1, got " + std::to_string(min_area) + " and " +
                          std::to_string(max_area));
    if (!(min_aspect > 0.0f && min_aspect <= 1.0f))
        throw ConfigError("RandomErasing::min_aspect must be in (0, 1], got " + std::to_string(min_aspect));
    if (max_attempts < 1) throw ConfigError("RandomErasing::max_attempts must be at least 1");
}

CutBox random_erase(const RandomErasing& cfg, uint64_t seed, float* image, int channels, int height, int width) {
    std::mt19937_64 rng(seed);
    CutBox box;
    // timm: `if random.random() > probability: return`.
    if (data_detail::uniform01(rng) > cfg.prob) return box;
    const double area = double(height) * width;
    const double log_lo = std::log(double(cfg.min_aspect)), log_hi = -log_lo;
    for (int attempt = 0; attempt < cfg.max_attempts; ++attempt) {
        const double target = (cfg.min_area + (cfg.max_area - cfg.min_area) * data_detail::uniform01(rng)) * area;
        const double aspect = std::exp(log_lo + (log_hi - log_lo) * data_detail::uniform01(rng));
        // Python's round() rounds halves to even, as nearbyint in the default rounding mode.
        const int h = static_cast<int>(std::nearbyint(std::sqrt(target * aspect)));
        const int w = static_cast<int>(std::nearbyint(std::sqrt(target / aspect)));
        if (!(w < width && h < height)) continue;
        // random.randint(0, size - h) includes both ends.
        box.top = static_cast<int>(data_detail::below(rng, uint64_t(height - h + 1)));
        box.left = static_cast<int>(data_detail::below(rng, uint64_t(width - w + 1)));
        box.bottom = box.top + h;
        box.right = box.left + w;
        const size_t plane = size_t(height) * width;
        for (int c = 0; c < channels; ++c) {
            const float colour = cfg.mode == EraseMode::Rand ? static_cast<float>(data_detail::normal(rng)) : 0.0f;
            for (int y = box.top; y < box.bottom; ++y) {
                float* row = image + c * plane + size_t(y) * width;
                for (int x = box.left; x < box.right; ++x)
                    row[x] = cfg.mode == EraseMode::Pixel ? static_cast<float>(data_detail::normal(rng)) : colour;
            }
        }
        return box;
    }
    return box;
}

}  // namespace vit
