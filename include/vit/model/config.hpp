// Typed model configuration (the preprocessing is image/preprocess.hpp). Strings appear only at the
// file and CLI boundaries (see io/checkpoint.hpp for the JSON forms).
#pragma once
#include <string>
#include <vector>

namespace vit {

enum class GlobalPool {
    Token,  // the class token (DeiT distilled: the class and the distillation token, one head each)
    Avg,    // the mean of the patch tokens (prefix tokens excluded)
    Map,    // timm's AttentionPoolLatent: one learned query attends over the patch tokens
    // The class token beside the mean of the patch tokens, both after the final norm, concatenated:
    // [x_cls ; (1/P) Σ_p x_p], 2·embed_dim wide (Hugging Face's Dinov2ForImageClassification; no timm
    // model pools this way).
    TokenAvg,
};

// The MLP's activation: exact GELU (erf), CLIP's QuickGELU x·σ(1.702x), or GELU's tanh approximation.
enum class Activation { Gelu, QuickGelu, GeluTanh };

// The arguments of timm's VisionTransformer (and VisionTransformerDistilled) that change the maths.
struct ViTConfig {
    int img_h = 224, img_w = 224;
    int patch_size = 16;
    int in_chans = 3;
    int num_classes = 1000;  // 0: no classifier, the output is the pooled features (embed_dim wide)
    int embed_dim = 192;
    int depth = 12;
    int num_heads = 3;
    double mlp_ratio = 4.0;
    bool qkv_bias = true;
    bool class_token = true;
    bool distilled = false;       // DeiT: a distillation token after the class token, its own head
    int reg_tokens = 0;           // register tokens after the class (and distillation) token
    bool no_embed_class = false;  // the position embedding covers the patches only
    bool pre_norm = false;        // norm_pre before the blocks; the patch embedding then has no bias
    float init_values = 0.0f;     // LayerScale (ls1.gamma, ls2.gamma) when > 0; the value only seeds init
    Activation act = Activation::Gelu;
    GlobalPool global_pool = GlobalPool::Token;
    bool fc_norm = false;  // resolved: timm's fc_norm=None means (global_pool == Avg)
    float ln_eps = 1e-6f;

    int grid_h() const { return img_h / patch_size; }
    int grid_w() const { return img_w / patch_size; }
    int num_patches() const { return grid_h() * grid_w(); }
    // Prefix tokens in timm's order: class, distillation, registers; then the patches.
    int num_prefix() const { return (class_token ? 1 : 0) + (distilled ? 1 : 0) + reg_tokens; }
    int num_tokens() const { return num_patches() + num_prefix(); }
    // Rows of pos_embed: every token, or only the patches with no_embed_class.
    int pos_tokens() const { return no_embed_class ? num_patches() : num_tokens(); }
    int head_dim() const { return embed_dim / num_heads; }
    int mlp_hidden() const { return static_cast<int>(embed_dim * mlp_ratio); }
    bool layer_scale() const { return init_values > 0.0f; }
    bool patch_bias() const { return !pre_norm; }
    // Width of the pooled features, the classifier's input: 2·embed_dim for TokenAvg, else embed_dim.
    int num_features() const { return global_pool == GlobalPool::TokenAvg ? 2 * embed_dim : embed_dim; }
    // Width of the model's output: the logits, or the pooled features without a classifier.
    int num_outputs() const { return num_classes > 0 ? num_classes : num_features(); }

    void validate() const;  // throws ConfigError naming the offending field
};

const char* to_string(GlobalPool p);
const char* to_string(Activation a);
GlobalPool parse_global_pool(const std::string& s);        // "token" | "avg" | "map" | "token_avg"
Activation parse_activation(const std::string& s);        // "gelu" | "quick_gelu" | "gelu_tanh"

}  // namespace vit
