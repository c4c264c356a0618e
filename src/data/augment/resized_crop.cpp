#include "vit/data/augment/resized_crop.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "data/random.hpp"
#include "vit/util/error.hpp"

namespace vit {

const char* to_string(TrainInterpolation i) {
    switch (i) {
        case TrainInterpolation::Bilinear: return "bilinear";
        case TrainInterpolation::Bicubic: return "bicubic";
        case TrainInterpolation::Random: break;
    }
    return "random";
}

TrainInterpolation parse_train_interpolation(const std::string& s) {
    for (TrainInterpolation i : {TrainInterpolation::Bilinear, TrainInterpolation::Bicubic, TrainInterpolation::Random})
        if (s == to_string(i)) return i;
    throw ConfigError("unknown training interpolation '" + s + "' (expected random, bilinear or bicubic)");
}

void ResizedCrop::validate() const {
    const auto check = [](bool ok, const char* field, const char* requirement, std::pair<double, double> v) {
        if (ok) return;
        std::ostringstream got;
        got << v.first << "," << v.second;
        throw FieldError("ResizedCrop", field, requirement, got.str());
    };
    check(scale.first > 0 && scale.first <= scale.second && scale.second <= 1, "scale",
          "must be two area fractions 0 < min <= max <= 1", scale);
    check(ratio.first > 0 && ratio.first <= ratio.second && std::isfinite(ratio.second), "ratio",
          "must be two aspect ratios 0 < min <= max", ratio);
}

namespace {

// Python's round() to an int: half to even, which nearbyint does in the default rounding mode.
int py_round(double v) { return static_cast<int>(std::nearbyint(v)); }

double uniform(std::mt19937_64& rng, double lo, double hi) { return lo + (hi - lo) * data_detail::uniform01(rng); }

}  // namespace

CropBox sample_resized_crop(const ResizedCrop& rc, int height, int width, uint64_t seed) {
    std::mt19937_64 rng(seed);
    CropBox box;
    switch (rc.interpolation) {
        case TrainInterpolation::Bilinear: box.interpolation = Interpolation::Bilinear; break;
        case TrainInterpolation::Bicubic: box.interpolation = Interpolation::Bicubic; break;
        case TrainInterpolation::Random:
            box.interpolation = (rng() >> 63) ? Interpolation::Bicubic : Interpolation::Bilinear;
            break;
    }
    const double area = double(height) * double(width);
    const double log_lo = std::log(rc.ratio.first), log_hi = std::log(rc.ratio.second);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double target_area = area * uniform(rng, rc.scale.first, rc.scale.second);
        const double aspect = std::exp(uniform(rng, log_lo, log_hi));
        const int w = py_round(std::sqrt(target_area * aspect));
        const int h = py_round(std::sqrt(target_area / aspect));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            box.top = static_cast<int>(data_detail::below(rng, uint64_t(height - h + 1)));
            box.left = static_cast<int>(data_detail::below(rng, uint64_t(width - w + 1)));
            box.height = h;
            box.width = w;
            return box;
        }
    }
    // The centre crop with the nearest allowed aspect ratio.
    const double in_ratio = double(width) / double(height);
    box.width = width;
    box.height = height;
    if (in_ratio < rc.ratio.first) {
        box.height = std::clamp(py_round(width / rc.ratio.first), 1, height);
    } else if (in_ratio > rc.ratio.second) {
        box.width = std::clamp(py_round(height * rc.ratio.second), 1, width);
    }
    box.top = (height - box.height) / 2;
    box.left = (width - box.width) / 2;
    return box;
}

}  // namespace vit
