#include "explain_options.hpp"

#include <cmath>
#include <iterator>
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

struct MethodName {
    const char* name;
    vit::SaliencyMethod method;
};
constexpr MethodName kMethods[] = {{"rollout", vit::SaliencyMethod::Rollout},
                                   {"grad-rollout", vit::SaliencyMethod::GradRollout},
                                   {"chefer2021", vit::SaliencyMethod::Chefer2021},
                                   {"chefer2021-lrp", vit::SaliencyMethod::Chefer2021Lrp},
                                   {"attnlrp", vit::SaliencyMethod::AttnLrp},
                                   {"last-attention", vit::SaliencyMethod::LastAttention},
                                   {"occlusion", vit::SaliencyMethod::Occlusion},
                                   {"grad-rollout-x-occlusion", vit::SaliencyMethod::GradRolloutOcclusion},
                                   {"rise", vit::SaliencyMethod::Rise}};

// The names of vit::all_scored_maps(), in its order.
constexpr const char* kScoredMapNames[] = {"random",         "centre",         "rollout",
                                           "rollout-max",    "grad-rollout",   "chefer2021",
                                           "chefer2021-lrp", "attnlrp",        "last-attention",
                                           "occlusion",      "grad-rollout-x-occlusion", "rise"};

std::string joined_names() {
    std::string names;
    for (const char* n : kScoredMapNames) names += std::string(names.empty() ? "" : ", ") + n;
    return names;
}

}  // namespace

vit::SaliencyMethod parse_method_flag(const std::string& flag, const std::string& text) {
    std::string names;
    for (const MethodName& m : kMethods) {
        if (text == m.name) return m.method;
        names += std::string(names.empty() ? "" : ", ") + m.name;
    }
    throw UsageError(flag + " must be one of " + names + "; got '" + text + "'");
}

vit::Baseline parse_baseline_flag(const std::string& flag, const std::string& text) {
    for (vit::Baseline b : {vit::Baseline::Zero, vit::Baseline::Mean, vit::Baseline::Blur})
        if (text == vit::to_string(b)) return b;
    throw UsageError(flag + " must be zero, mean or blur, got '" + text + "'");
}

std::vector<vit::ScoredMap> parse_methods_flag(const std::string& flag, const std::string& text, int rise_samples) {
    const std::vector<vit::ScoredMap> all = vit::all_scored_maps();
    if (all.size() != std::size(kScoredMapNames))
        throw std::logic_error("explain_options: the scored map names are out of step with vit::all_scored_maps()");
    if (text == "default") return vit::default_scored_maps();
    std::vector<vit::ScoredMap> maps = text == "all" ? all : std::vector<vit::ScoredMap>();
    for (const std::string& name : text == "all" ? std::vector<std::string>() : split_list(text)) {
        size_t k = 0;
        while (k < all.size() && name != kScoredMapNames[k]) ++k;
        if (k == all.size())
            throw UsageError(flag + ": unknown map '" + name + "' (expected all, default or a list of " +
                             joined_names() + ")");
        maps.push_back(all[k]);
    }
    if (maps.empty()) throw UsageError(flag + " names no map");
    for (vit::ScoredMap& m : maps) m.saliency.rise.samples = rise_samples;
    return maps;
}

}  // namespace vit_cli
