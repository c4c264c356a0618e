#include "vit/model/config.hpp"

#include "vit/util/error.hpp"

namespace vit {

namespace {
void require(bool ok, const std::string& what) {
    if (!ok) throw ConfigError("invalid model configuration: " + what);
}
}  // namespace

void ViTConfig::validate() const {
    require(patch_size > 0, "patch_size must be positive, got " + std::to_string(patch_size));
    require(img_h > 0 && img_w > 0, "img_size must be positive");
    // As timm's stride-p convolution, a remainder smaller than a patch at the right and bottom edges is
    // left out (vit_so400m_patch14_siglip_384: 27x27 patches of 14 cover 378 of the 384 pixels).
    require(img_h >= patch_size && img_w >= patch_size,
            "image size " + std::to_string(img_h) + "x" + std::to_string(img_w) + " is smaller than patch_size " +
                std::to_string(patch_size));
    require(in_chans == 1 || in_chans == 3, "in_chans must be 1 or 3, got " + std::to_string(in_chans));
    // Bounds well beyond any published ViT (ViT-22B: width 6144, depth 48), so that a hostile file is
    // refused here instead of overflowing a size computation or asking for terabytes.
    require(num_classes >= 0 && num_classes <= 1000000,
            "num_classes must be in [0, 1000000], got " + std::to_string(num_classes));
    require(depth > 0 && depth <= 1000, "depth must be in [1, 1000], got " + std::to_string(depth));
    require(embed_dim > 0 && embed_dim <= 65536, "embed_dim must be in [1, 65536], got " + std::to_string(embed_dim));
    require(num_heads > 0 && embed_dim % num_heads == 0,
            "embed_dim " + std::to_string(embed_dim) + " must be a positive multiple of num_heads " +
                std::to_string(num_heads));
    require(mlp_ratio > 0 && mlp_ratio <= 64 && mlp_hidden() > 0, "mlp_ratio must be in (0, 64]");
    require(reg_tokens >= 0 && reg_tokens <= 1024, "reg_tokens must be in [0, 1024], got " + std::to_string(reg_tokens));
    require(img_h <= 65536 && img_w <= 65536, "img_size must be at most 65536");
    require(class_token || global_pool != GlobalPool::Token,
            "global_pool 'token' needs class_token=true");
    require(!distilled || (class_token && global_pool == GlobalPool::Token),
            "a distilled model pools its class and distillation tokens (class_token=true, global_pool 'token')");
    require(global_pool != GlobalPool::TokenAvg || (class_token && !fc_norm),
            "global_pool 'token_avg' needs class_token=true and the final norm before pooling (fc_norm=false)");
    require(init_values >= 0, "init_values must not be negative");
    require(ln_eps > 0, "LayerNorm eps must be positive");
}

const char* to_string(GlobalPool p) {
    switch (p) {
    case GlobalPool::Token: return "token";
    case GlobalPool::Avg: return "avg";
    case GlobalPool::Map: return "map";
    case GlobalPool::TokenAvg: return "token_avg";
    }
    return "?";
}
const char* to_string(Activation a) {
    switch (a) {
    case Activation::Gelu: return "gelu";
    case Activation::QuickGelu: return "quick_gelu";
    case Activation::GeluTanh: return "gelu_tanh";
    }
    return "?";
}

GlobalPool parse_global_pool(const std::string& s) {
    if (s == "token") return GlobalPool::Token;
    if (s == "avg") return GlobalPool::Avg;
    if (s == "map") return GlobalPool::Map;
    if (s == "token_avg") return GlobalPool::TokenAvg;
    throw ConfigError("unknown global_pool '" + s + "' (expected token, avg, map or token_avg)");
}

Activation parse_activation(const std::string& s) {
    if (s == "gelu") return Activation::Gelu;
    if (s == "quick_gelu") return Activation::QuickGelu;
    if (s == "gelu_tanh") return Activation::GeluTanh;
    throw ConfigError("unknown act_layer '" + s + "' (expected gelu, quick_gelu or gelu_tanh)");
}

}  // namespace vit
