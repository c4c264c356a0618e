// Choosing the timm registration that names a model in an exported config.json (architectures.hpp).
#include <algorithm>
#include <cmath>
#include <optional>
#include <tuple>

#include <nlohmann/json.hpp>

#include "io/checkpoint/formats.hpp"
#include "vit/io/architectures.hpp"
#include "vit/io/checkpoint.hpp"
#include "vit/util/error.hpp"
#include "vit/io/checkpoint.hpp"

namespace vit {

namespace {

using json = nlohmann::json;

// config_to_json writes every field, so equal JSON forms mean the same model.
bool same_model(const ViTConfig& a, const ViTConfig& b) { return config_to_json(a) == config_to_json(b); }

// The model timm builds from the registration's arguments with args on top and num_classes and
// global_pool given to create_model (read with our reader of timm's keyword arguments); nothing where
// the combination is not a valid model.
std::optional<ViTConfig> built(const json& registration, const json& args, const ViTConfig& want) {
    json kwargs = registration;
    kwargs.update(args);
    kwargs["num_classes"] = want.num_classes;
    kwargs["global_pool"] = to_string(want.global_pool);
    try {
        return config_from_json(kwargs.dump(), "timm");
    } catch (const ConfigError&) {
        return std::nullopt;
    }
}

json shape_args(const ViTConfig& c) {
    return {{"img_size", c.img_h == c.img_w ? json(c.img_h) : json::array({c.img_h, c.img_w})},
            {"patch_size", c.patch_size},
            {"in_chans", c.in_chans},
            {"embed_dim", c.embed_dim},
            {"depth", c.depth},
            {"num_heads", c.num_heads}};
}

// Every other VisionTransformer argument the model has, as timm reads it from JSON. Never null: timm's
// create_model drops None arguments, which would leave the registration's value in place (no LayerScale
// is therefore init_values 0, which timm treats as off too).
json trait_args(const ViTConfig& c) {
    return {{"mlp_ratio", c.mlp_ratio},
            {"qkv_bias", c.qkv_bias},
            {"class_token", c.class_token},
            {"reg_tokens", c.reg_tokens},
            {"no_embed_class", c.no_embed_class},
            {"pre_norm", c.pre_norm},
            {"init_values", c.layer_scale() ? detail::shortest_double(c.init_values) : 0.0},
            {"act_layer", to_string(c.act)},
            {"fc_norm", c.fc_norm}};
}

struct Candidate {
    std::string name;
    json args;
    // Lower is better, compared in this order.
    std::tuple<size_t, int, int, int, int, double, size_t, bool, std::string> rank;
};

// Why no registration fits: the two properties that only a registration sets.
[[noreturn]] void no_registration(const ViTConfig& want) {
    std::vector<double> eps;
    for (const std::string& name : timm_architectures()) {
        const ViTConfig r = config_from_json(timm_architecture_args(name), name);
        if (r.distilled == want.distilled) eps.push_back(detail::shortest_double(r.ln_eps));
    }
    std::sort(eps.begin(), eps.end());
    eps.erase(std::unique(eps.begin(), eps.end()), eps.end());
    const std::string ours = json(detail::shortest_double(want.ln_eps)).dump();
    if (!std::binary_search(eps.begin(), eps.end(), detail::shortest_double(want.ln_eps))) {
        std::string known;
        for (double e : eps) known += (known.empty() ? "" : ", ") + json(e).dump();
        throw ConfigError("no timm registration builds LayerNorm eps " + ours +
                          (want.distilled ? " with a distillation token" : "") +
                          ", and config.json cannot set it (timm takes it from the registration's norm_layer; "
                          "registrations use " + known + ")");
    }
    throw ConfigError("no timm registration can be turned into this model by model_args");
}

}  // namespace

TimmArchitectureMatch match_timm_architecture(const ViTConfig& want) {
    want.validate();
    // Our reader takes "token_avg" (native files keep it), but timm's VisionTransformer has no such
    // pooling and would refuse the argument: no registration can name this model.
    if (want.global_pool == GlobalPool::TokenAvg)
        throw ConfigError("no timm registration pools 'token_avg' (the class token beside the mean of the patch "
                          "tokens, Hugging Face's Dinov2ForImageClassification head)");
    const json shapes = shape_args(want), traits = trait_args(want);
    std::optional<Candidate> best;
    for (const std::string& name : timm_architectures()) {
        const json registration = json::parse(timm_architecture_args(name));
        json args = shapes;
        args.update(traits);
        const std::optional<ViTConfig> full = built(registration, args, want);
        if (!full || !same_model(*full, want)) continue;  // another eps, or distillation
        // Keep only the arguments the registration does not already give (each independent of the
        // others once global_pool is fixed, so one pass finds the smallest set).
        for (auto trait = traits.begin(); trait != traits.end(); ++trait) {
            json trial = args;
            trial.erase(trait.key());
            const std::optional<ViTConfig> b = built(registration, trial, want);
            if (b && same_model(*b, want)) args = std::move(trial);
        }
        // timm's own Hub loader (create_model("hf-hub:..." or "local-dir:...")) passes only model_args
        // and num_classes, so a pooling other than the registration's must be in model_args too.
        const ViTConfig own = config_from_json(registration.dump(), name);
        if (own.global_pool != want.global_pool) args["global_pool"] = to_string(want.global_pool);

        const bool patch = own.patch_size == want.patch_size, width = own.embed_dim == want.embed_dim,
                   depth = own.depth == want.depth;
        // Within a family (same patch size, width or depth) the nearest size; a model that shares
        // none of them gets the most generic registration instead of an arbitrary "nearest" one.
        const double distance =
            patch || width || depth
                ? std::fabs(std::log(double(own.embed_dim) / want.embed_dim)) +
                      std::fabs(std::log(double(own.depth) / want.depth)) +
                      std::fabs(std::log(double(own.img_h) * own.img_w / (double(want.img_h) * want.img_w)))
                : 0.0;
        Candidate c{name, args, {}};
        c.rank = {args.size() - shapes.size(), !patch, !width, !depth, own.num_heads != want.num_heads,
                  distance, registration.size(), name.rfind("vit_", 0) != 0, name};
        if (!best || c.rank < best->rank) best = std::move(c);
    }
    if (!best) no_registration(want);
    return {best->name, best->args.dump()};
}

}  // namespace vit
