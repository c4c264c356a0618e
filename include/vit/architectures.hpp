// timm's ViT architectures by name: the keyword arguments of each `vit_*`, `deit_*` and `deit3_*`
// registration in timm's vision_transformer.py and deit.py whose maths this library implements. The
// table is data (models/timm-architectures.json, made by scripts/make_timm_arch_table.py from timm's
// source) compiled into the library, so an installed program needs no files beside it.
#pragma once
#include <string>
#include <vector>

namespace vit {

// The registration's arguments as a JSON object (timm's VisionTransformer keyword names), for a name
// with or without a pretrained tag ("vit_tiny_patch16_224.augreg_in21k_ft_in1k": the tag does not
// change shapes). Throws ConfigError naming the architecture and the closest known names.
std::string timm_architecture_args(const std::string& name);

// Every architecture in the table, sorted.
std::vector<std::string> timm_architectures();

}  // namespace vit
