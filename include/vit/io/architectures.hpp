// timm's ViT architectures by name: the keyword arguments of each `vit_*`, `deit_*` and `deit3_*`
// registration in timm's vision_transformer.py and deit.py whose maths this library implements. The
// table is data (models/timm-architectures.json, made by scripts/make_timm_arch_table.py from timm's
// source) compiled into the library, so an installed program needs no files beside it.
#pragma once
#include <string>
#include <vector>

#include "vit/model/config.hpp"

namespace vit {

// The registration's arguments as a JSON object (timm's VisionTransformer keyword names), for a name
// with or without a pretrained tag ("vit_tiny_patch16_224.augreg_in21k_ft_in1k": the tag does not
// change shapes). Throws ConfigError naming the architecture and the closest known names.
std::string timm_architecture_args(const std::string& name);

// Every architecture in the table, sorted.
std::vector<std::string> timm_architectures();

// How a timm Hub config.json names a model: a registration from the table, and the keyword arguments
// that, given on top of it (with num_classes and global_pool passed to create_model as well), build
// exactly cfg.
struct TimmArchitectureMatch {
    std::string architecture;
    std::string model_args;  // a JSON object: always the shapes (img_size, patch_size, in_chans,
                             // embed_dim, depth, num_heads), then every argument whose value differs
                             // from what the registration gives (global_pool among them, since timm's
                             // own Hub loader reads only model_args and num_classes)
};

// The registration closest to cfg: fewest arguments to change, then the same patch size, width and
// depth (the nearest size in that family), else the most generic one (vit_base_patch16_224 for a plain
// model that shares nothing with any registration). The LayerNorm eps and the distillation token come
// only from the registration (config.json can give neither), so a model whose pair no registration has
// is a ConfigError naming it; so is global_pool 'token_avg', which timm does not have.
TimmArchitectureMatch match_timm_architecture(const ViTConfig& cfg);

}  // namespace vit
