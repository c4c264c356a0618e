#include "explain_options.hpp"

#include <cmath>

namespace vit_cli {

float parse_discard_ratio(const std::string& flag, const std::string& text) {
    size_t used = 0;
    double r = NAN;
    try {
        r = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size())
        throw UsageError(flag + " expects a number in [0, 1), got '" + text + "'");
    if (!(r >= 0.0 && r < 1.0)) throw UsageError(flag + " must be in [0, 1), got " + text);
    return static_cast<float>(r);
}

vit::HeadFusion parse_fusion_flag(const std::string& flag, const std::string& text) {
    try {
        return vit::parse_head_fusion(text);
    } catch (const vit::ConfigError&) {
        throw UsageError(flag + " must be mean, max or min, got '" + text + "'");
    }
}

int parse_class_flag(const std::string& flag, const std::string& text, int classes) {
    size_t used = 0;
    long k = -1;
    try {
        k = std::stol(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size()) throw UsageError(flag + " expects a class index, got '" + text + "'");
    if (k < 0 || k >= classes)
        throw UsageError(flag + ": class " + text + " is out of range, the model has classes 0.." +
                         std::to_string(classes - 1));
    return static_cast<int>(k);
}

}  // namespace vit_cli
