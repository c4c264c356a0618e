#include "vit/data/augment/auto_augment.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>

#include "data/random.hpp"
#include "vit/util/error.hpp"

namespace vit {
namespace {

// timm's _LEVEL_DENOM: magnitudes are tenths of the largest argument.
constexpr double kLevelDenom = 10.0;

// timm's _RAND_TRANSFORMS; with `inc` the enhancements, Posterize and Solarize use their Increasing
// level functions instead (_RAND_INCREASING_TRANSFORMS), which is a level rule, not another operation.
constexpr std::array<AugmentOp, 15> kRandOps{
    AugmentOp::AutoContrast, AugmentOp::Equalize,  AugmentOp::Invert,     AugmentOp::Rotate,
    AugmentOp::Posterize,    AugmentOp::Solarize,  AugmentOp::SolarizeAdd, AugmentOp::Color,
    AugmentOp::Contrast,     AugmentOp::Brightness, AugmentOp::Sharpness, AugmentOp::ShearX,
    AugmentOp::ShearY,       AugmentOp::TranslateX, AugmentOp::TranslateY};

// torchvision's TrivialAugmentWide._augmentation_space, in its order.
constexpr std::array<AugmentOp, 14> kTrivialOps{
    AugmentOp::Identity,   AugmentOp::ShearX, AugmentOp::ShearY,   AugmentOp::TranslateX, AugmentOp::TranslateY,
    AugmentOp::Rotate,     AugmentOp::Brightness, AugmentOp::Color, AugmentOp::Contrast, AugmentOp::Sharpness,
    AugmentOp::Posterize,  AugmentOp::Solarize, AugmentOp::AutoContrast, AugmentOp::Equalize};
constexpr int kTrivialBins = 31;

bool geometric(AugmentOp op) {
    return op == AugmentOp::Rotate || op == AugmentOp::ShearX || op == AugmentOp::ShearY || op == AugmentOp::TranslateX ||
           op == AugmentOp::TranslateY;
}

bool enhancement(AugmentOp op) {
    return op == AugmentOp::Color || op == AugmentOp::Contrast || op == AugmentOp::Brightness || op == AugmentOp::Sharpness;
}

// timm's _randomly_negate: `-v if random.random() > 0.5 else v`.
double randomly_negate(std::mt19937_64& rng, double v) { return data_detail::uniform01(rng) > 0.5 ? -v : v; }

// timm's LEVEL_TO_ARG for magnitude m in [0, 10] (the Increasing variants where `increasing`).
double level_to_arg(AugmentOp op, double m, bool increasing, int height, int width, std::mt19937_64& rng) {
    const double level = m / kLevelDenom;
    switch (op) {
        case AugmentOp::Rotate: return randomly_negate(rng, level * 30.0);
        case AugmentOp::Posterize: {
            const int bits = static_cast<int>(level * 4);
            return increasing ? 4 - bits : bits;
        }
        case AugmentOp::Solarize: {
            const int thresh = std::min(256, static_cast<int>(level * 256));
            return increasing ? 256 - thresh : thresh;
        }
        case AugmentOp::SolarizeAdd: return std::min(128, static_cast<int>(level * 110));
        case AugmentOp::Color:
        case AugmentOp::Contrast:
        case AugmentOp::Brightness:
        case AugmentOp::Sharpness:
            return increasing ? std::max(0.1, 1.0 + randomly_negate(rng, level * 0.9)) : level * 1.8 + 0.1;
        case AugmentOp::ShearX:
        case AugmentOp::ShearY: return randomly_negate(rng, level * 0.3);
        // TranslateXRel / TranslateYRel: translate_pct 0.45 of the image's width / height.
        case AugmentOp::TranslateX: return randomly_negate(rng, level * 0.45) * width;
        case AugmentOp::TranslateY: return randomly_negate(rng, level * 0.45) * height;
        default: return 0.0;
    }
}

int parse_int(const std::string& config, const std::string& section, const std::string& digits) {
    size_t used = 0;
    int v = 0;
    try {
        v = std::stoi(digits, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != digits.size())
        throw ConfigError("augmentation '" + config + "': section '" + section + "' needs an integer");
    return v;
}

double parse_double(const std::string& config, const std::string& section, const std::string& digits) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(digits, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != digits.size())
        throw ConfigError("augmentation '" + config + "': section '" + section + "' needs a number");
    return v;
}

}  // namespace

AutoAugment parse_auto_augment(const std::string& config) {
    AutoAugment aa;
    if (config.empty() || config == "none") return aa;
    if (config == "trivial") {
        aa.kind = AutoAugmentKind::TrivialWide;
        return aa;
    }
    if (config.rfind("rand", 0) != 0 || (config.size() > 4 && config[4] != '-'))
        throw ConfigError("augmentation '" + config + "' is neither rand-... (RandAugment), trivial nor none");
    aa.kind = AutoAugmentKind::Rand;
    for (size_t start = 5; start < config.size();) {
        const size_t end = std::min(config.find('-', start), config.size());
        const std::string section = config.substr(start, end - start);
        start = end + 1;
        if (section.empty()) continue;
        // timm reads a section starting with 't' as a transform-set name, anything else as a key up
        // to its first digit and a number from there.
        if (section[0] == 't')
            throw ConfigError("augmentation '" + config + "': transform sets (section '" + section + "') are not supported");
        const size_t digit = section.find_first_of("0123456789");
        if (digit == std::string::npos) continue;  // timm skips sections without a number
        const std::string key = section.substr(0, digit), value = section.substr(digit);
        if (key == "m") aa.magnitude = parse_int(config, section, value);
        else if (key == "n") aa.num_layers = parse_int(config, section, value);
        else if (key == "p") aa.prob = static_cast<float>(parse_double(config, section, value));
        else if (key == "mmax") aa.magnitude_max = parse_int(config, section, value);
        else if (key == "inc") aa.increasing = true;  // timm: bool(val) of a non-empty string
        else if (key == "mstd") {
            aa.magnitude_std = parse_double(config, section, value);
            if (aa.magnitude_std > 100) aa.magnitude_std = std::numeric_limits<double>::infinity();
        } else {
            throw ConfigError("augmentation '" + config + "': unknown section '" + section + "'");
        }
    }
    if (aa.num_layers < 0 || aa.magnitude < 0 || aa.magnitude_max < 0 || !(aa.prob >= 0.0f && aa.prob <= 1.0f) ||
        aa.magnitude_std < 0)
        throw ConfigError("augmentation '" + config + "': m, n, mmax and mstd must be >= 0 and p in [0, 1]");
    return aa;
}

std::vector<AugmentCall> draw_auto_augment(const AutoAugment& aa, uint64_t seed, int height, int width) {
    std::vector<AugmentCall> calls;
    std::mt19937_64 rng(seed);
    if (aa.kind == AutoAugmentKind::TrivialWide) {
        AugmentCall c;
        c.op = kTrivialOps[data_detail::below(rng, kTrivialOps.size())];
        if (c.op == AugmentOp::Identity || c.op == AugmentOp::AutoContrast || c.op == AugmentOp::Equalize) {
            calls.push_back(c);
            return calls;
        }
        const double bin = static_cast<double>(data_detail::below(rng, kTrivialBins)), top = kTrivialBins - 1;
        // torchvision's magnitude tables (float32 linspace / arange), signed ones negated on a coin.
        double m = 0;
        bool is_signed = true;
        switch (c.op) {
            case AugmentOp::ShearX:
            case AugmentOp::ShearY:
            case AugmentOp::Brightness:
            case AugmentOp::Color:
            case AugmentOp::Contrast:
            case AugmentOp::Sharpness: m = static_cast<float>(0.99 * bin / top); break;
            case AugmentOp::TranslateX:
            case AugmentOp::TranslateY: m = static_cast<float>(32.0 * bin / top); break;
            case AugmentOp::Rotate: m = static_cast<float>(135.0 * bin / top); break;
            case AugmentOp::Posterize: m = 8 - std::nearbyint(bin / (top / 6)), is_signed = false; break;
            case AugmentOp::Solarize: m = static_cast<float>(255.0 - 255.0 * bin / top), is_signed = false; break;
            default: break;
        }
        if (is_signed && data_detail::below(rng, 2)) m = -m;
        // torchvision's _apply_op: enhancements at 1 + m, translations by int(m) (its inverse matrix
        // shifts by -int(m)), shears and rotations by m, posterize to int(m) bits, solarize at m.
        c.arg = enhancement(c.op) ? 1.0 + m : (c.op == AugmentOp::TranslateX || c.op == AugmentOp::TranslateY) ? -std::trunc(m) : m;
        calls.push_back(c);
        return calls;
    }
    if (aa.kind != AutoAugmentKind::Rand) return calls;
    // np.random.choice(ops, num_layers, replace=True): uniform picks with replacement, drawn first.
    std::vector<AugmentOp> picks;
    for (int l = 0; l < aa.num_layers; ++l) picks.push_back(kRandOps[data_detail::below(rng, kRandOps.size())]);
    for (const AugmentOp op : picks) {
        // timm's AugmentOp.__call__: the probability coin, the magnitude jitter, the level function's
        // sign coin, then the interpolation coin of the geometric operations.
        if (aa.prob < 1.0f && data_detail::uniform01(rng) > aa.prob) continue;
        double m = aa.magnitude;
        if (aa.magnitude_std > 0) {
            if (std::isinf(aa.magnitude_std)) m = m * data_detail::uniform01(rng);
            else m = m + aa.magnitude_std * data_detail::normal(rng);
        }
        m = std::clamp(m, 0.0, static_cast<double>(aa.magnitude_max ? aa.magnitude_max : kLevelDenom));
        AugmentCall c;
        c.op = op;
        c.arg = level_to_arg(op, m, aa.increasing, height, width, rng);
        if (geometric(op)) c.resample = data_detail::below(rng, 2) ? Interpolation::Bicubic : Interpolation::Bilinear;
        calls.push_back(c);
    }
    return calls;
}

void apply_augment(const AugmentCall& call, uint8_t* img, int H, int W, int C, const uint8_t* fill,
                   std::vector<uint8_t>& scratch) {
    const float f = static_cast<float>(call.arg);
    double m[6] = {1, 0, 0, 0, 1, 0};
    switch (call.op) {
        case AugmentOp::Identity: return;
        case AugmentOp::AutoContrast: return auto_contrast(img, H, W, C);
        case AugmentOp::Equalize: return equalize(img, H, W, C);
        case AugmentOp::Invert: return invert(img, H, W, C);
        case AugmentOp::Posterize: return posterize(img, H, W, C, static_cast<int>(call.arg));
        case AugmentOp::Solarize: return solarize(img, H, W, C, call.arg);
        case AugmentOp::SolarizeAdd: return solarize_add(img, H, W, C, static_cast<int>(call.arg), 128);
        case AugmentOp::Color: return enhance_color(img, H, W, C, f);
        case AugmentOp::Contrast: return enhance_contrast(img, H, W, C, f);
        case AugmentOp::Brightness: return enhance_brightness(img, H, W, C, f);
        case AugmentOp::Sharpness: return enhance_sharpness(img, H, W, C, f);
        case AugmentOp::Rotate: rotation_matrix(call.arg, H, W, m); break;
        case AugmentOp::ShearX: m[1] = call.arg; break;
        case AugmentOp::ShearY: m[3] = call.arg; break;
        case AugmentOp::TranslateX: m[2] = call.arg; break;
        case AugmentOp::TranslateY: m[5] = call.arg; break;
    }
    scratch.resize(size_t(H) * W * C);
    affine_transform(img, scratch.data(), H, W, C, m, call.resample, fill);
    std::copy(scratch.begin(), scratch.end(), img);
}

}  // namespace vit
