#include "vit/config.hpp"

#include "vit/error.hpp"

namespace vit {

namespace {
void require(bool ok, const std::string& what) {
    if (!ok) throw ConfigError("invalid model configuration: " + what);
}
}  // namespace

void ViTConfig::validate() const {
    require(patch_size > 0, "patch_size must be positive, got " + std::to_string(patch_size));
    require(img_h > 0 && img_w > 0, "img_size must be positive");
    require(img_h % patch_size == 0 && img_w % patch_size == 0,
            "image size " + std::to_string(img_h) + "x" + std::to_string(img_w) +
                " is not divisible by patch_size " + std::to_string(patch_size));
    require(in_chans == 1 || in_chans == 3, "in_chans must be 1 or 3, got " + std::to_string(in_chans));
    require(num_classes > 0, "num_classes must be positive, got " + std::to_string(num_classes));
    require(depth > 0, "depth must be positive, got " + std::to_string(depth));
    require(num_heads > 0 && embed_dim > 0 && embed_dim % num_heads == 0,
            "embed_dim " + std::to_string(embed_dim) + " must be a positive multiple of num_heads " +
                std::to_string(num_heads));
    require(mlp_ratio > 0 && mlp_hidden() > 0, "mlp_ratio must be positive");
    require(class_token || global_pool != GlobalPool::Token,
            "global_pool 'token' needs class_token=true");
    require(ln_eps > 0, "LayerNorm eps must be positive");
}

void PreprocessConfig::validate() const {
    auto fail = [](const std::string& what) { throw ConfigError("invalid preprocessing: " + what); };
    if (channels != 1 && channels != 3) fail("channels must be 1 or 3, got " + std::to_string(channels));
    if (height <= 0 || width <= 0) fail("input size must be positive");
    if (!(crop_pct > 0 && crop_pct <= 4)) fail("crop_pct must be in (0, 4], got " + std::to_string(crop_pct));
    if (mean.size() != static_cast<size_t>(channels) || std.size() != static_cast<size_t>(channels))
        fail("mean and std need " + std::to_string(channels) + " values, got " + std::to_string(mean.size()) +
             " and " + std::to_string(std.size()));
    for (float s : std)
        if (!(s > 0)) fail("std values must be positive");
}

const char* to_string(GlobalPool p) { return p == GlobalPool::Token ? "token" : "avg"; }
const char* to_string(Interpolation i) { return i == Interpolation::Bicubic ? "bicubic" : "bilinear"; }
const char* to_string(ResizeMode m) { return m == ResizeMode::Direct ? "direct" : "shorter_side_crop"; }

GlobalPool parse_global_pool(const std::string& s) {
    if (s == "token") return GlobalPool::Token;
    if (s == "avg") return GlobalPool::Avg;
    throw ConfigError("unknown global_pool '" + s + "' (expected token or avg)");
}

Interpolation parse_interpolation(const std::string& s) {
    if (s == "bicubic") return Interpolation::Bicubic;
    if (s == "bilinear") return Interpolation::Bilinear;
    throw ConfigError("unknown interpolation '" + s + "' (expected bicubic or bilinear)");
}

ResizeMode parse_resize_mode(const std::string& s) {
    if (s == "shorter_side_crop") return ResizeMode::ShorterSideCrop;
    if (s == "direct") return ResizeMode::Direct;
    throw ConfigError("unknown resize mode '" + s + "' (expected shorter_side_crop or direct)");
}

}  // namespace vit
