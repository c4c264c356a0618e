#include "explain_options.hpp"

#include <cmath>
#include <stdexcept>

#include "model_spec.hpp"

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

namespace {
std::string joined(const std::vector<std::string>& names) {
    std::string all;
    for (const std::string& n : names) all += std::string(all.empty() ? "" : ", ") + n;
    return all;
}
}  // namespace

vit::SaliencyMethod parse_method_flag(const std::string& flag, const std::string& text) {
    try {
        return vit::parse_saliency_method(text);
    } catch (const vit::ConfigError&) {
        throw UsageError(flag + " must be one of " + joined(vit::saliency_method_names()) + "; got '" + text + "'");
    }
}

vit::Baseline parse_baseline_flag(const std::string& flag, const std::string& text) {
    for (vit::Baseline b : {vit::Baseline::Zero, vit::Baseline::Mean, vit::Baseline::Blur})
        if (text == vit::to_string(b)) return b;
    throw UsageError(flag + " must be zero, mean or blur, got '" + text + "'");
}

std::vector<vit::ScoredMap> parse_methods_flag(const std::string& flag, const std::string& text, int rise_samples) {
    if (text == "default") return vit::default_scored_maps();
    std::vector<vit::ScoredMap> maps = text == "all" ? vit::all_scored_maps() : std::vector<vit::ScoredMap>();
    for (const std::string& name : text == "all" ? std::vector<std::string>() : split_list(text)) {
        try {
            maps.push_back(vit::parse_scored_map(name));
        } catch (const vit::ConfigError&) {
            throw UsageError(flag + ": unknown map '" + name + "' (expected all, default or a list of " +
                             joined(vit::scored_map_keys()) + ")");
        }
    }
    if (maps.empty()) throw UsageError(flag + " names no map");
    for (vit::ScoredMap& m : maps) m.saliency.rise.samples = rise_samples;
    return maps;
}

}  // namespace vit_cli
