// Typed model and preprocessing configuration. Strings appear only at the file and CLI boundaries
// (see checkpoint.hpp for the JSON forms).
#pragma once
#include <string>
#include <vector>

namespace vit {

enum class GlobalPool { Token, Avg };

// The arguments of timm's VisionTransformer that change the maths.
struct ViTConfig {
    int img_h = 224, img_w = 224;
    int patch_size = 16;
    int in_chans = 3;
    int num_classes = 1000;
    int embed_dim = 192;
    int depth = 12;
    int num_heads = 3;
    double mlp_ratio = 4.0;
    bool qkv_bias = true;
    bool class_token = true;
    GlobalPool global_pool = GlobalPool::Token;
    bool fc_norm = false;  // resolved: timm's fc_norm=None means (global_pool == Avg)
    float ln_eps = 1e-6f;

    int grid_h() const { return img_h / patch_size; }
    int grid_w() const { return img_w / patch_size; }
    int num_patches() const { return grid_h() * grid_w(); }
    int num_prefix() const { return class_token ? 1 : 0; }
    int num_tokens() const { return num_patches() + num_prefix(); }
    int head_dim() const { return embed_dim / num_heads; }
    int mlp_hidden() const { return static_cast<int>(embed_dim * mlp_ratio); }

    void validate() const;  // throws ConfigError naming the offending field
};

enum class Interpolation { Bilinear, Bicubic };
enum class ResizeMode {
    ShorterSideCrop,  // timm eval: resize the shorter side to size/crop_pct, centre crop
    Direct,           // Hugging Face ViTImageProcessor: resize straight to (height, width)
};

struct PreprocessConfig {
    int channels = 3;
    int height = 224, width = 224;
    Interpolation interpolation = Interpolation::Bicubic;
    ResizeMode resize_mode = ResizeMode::ShorterSideCrop;
    double crop_pct = 0.9;
    std::vector<float> mean{0.5f, 0.5f, 0.5f};
    std::vector<float> std{0.5f, 0.5f, 0.5f};

    void validate() const;  // throws ConfigError
};

const char* to_string(GlobalPool p);
const char* to_string(Interpolation i);
const char* to_string(ResizeMode m);
GlobalPool parse_global_pool(const std::string& s);        // "token" | "avg"
Interpolation parse_interpolation(const std::string& s);   // "bicubic" | "bilinear"
ResizeMode parse_resize_mode(const std::string& s);        // "shorter_side_crop" | "direct"

}  // namespace vit
