// Writing a checkpoint as a folder that other libraries load: timm's Hub layout (timm.create_model and
// load_checkpoint read it) or a Hugging Face ViTForImageClassification folder (transformers and
// load_checkpoint read it).
//
// The output folder may be absent (it is created), empty, or one that an earlier export wrote (its
// model.safetensors carries the metadata "vit.export"): an export replaces its own files and removes
// those of the other format, and refuses any other folder with an IoError, so that it never mixes its
// files with someone else's. Each file is written atomically (a temporary file, then a rename), the
// weights first: an interrupted export leaves a folder that the next export to it may replace.
#pragma once
#include <string>
#include <vector>

#include "vit/io/checkpoint.hpp"

namespace vit {

struct ExportReport {
    std::vector<std::string> files;  // the paths written, in order
    std::string architecture;        // timm: the registration config.json names; else "ViTForImageClassification"
    std::vector<std::string> approximations;  // what the folder does not reproduce exactly (empty: nothing)
};

// timm's Hub layout: model.safetensors holding exactly the tensors of timm's model (its state_dict,
// e.g. no head with num_classes 0), and config.json with "architecture" (the closest registration,
// match_timm_architecture in architectures.hpp), "model_args", "num_classes", "num_features",
// "global_pool", "pretrained_cfg" (the preprocessing: input_size, interpolation, crop_pct, crop_mode,
// mean, std, num_classes) and "label_names". timm.create_model(architecture, pretrained=False,
// **model_args, num_classes=N, global_pool=P) then builds exactly this model, and load_state_dict takes
// the weights with strict=True. A direct resize (Hugging Face's preprocessing) is written as timm's
// crop_mode "squash" with crop_pct 1, which is the same resize.
// Throws ConfigError when no registration can express the model (a LayerNorm eps other than timm's
// 1e-6 or CLIP's 1e-5), ShapeError for a missing or misshapen tensor, IoError for the folder.
ExportReport export_timm_folder(const std::string& dir, const Checkpoint& ckpt);

// Hugging Face's ViTForImageClassification: config.json, preprocessor_config.json as ViTImageProcessor
// writes it, and model.safetensors under Hugging Face's names (timm's qkv split into query, key and
// value). Only models that this ViT can express: a class token, pooled as the token after the final
// norm, exact GELU, and no LayerScale, register tokens, distillation token, pre_norm, no_embed_class or
// attention pooling; anything else is a ConfigError listing what it cannot express. ViTImageProcessor
// resizes straight to the input size: for a model whose preprocessing is another (timm's center or
// border, or squash with crop_pct below 1), that direct resize is written and reported in
// approximations. The tensors are renamed by the loader's own names for
// ViTForImageClassification, walked backwards (src/io/checkpoint/hf_vit.cpp).
ExportReport export_hf_folder(const std::string& dir, const Checkpoint& ckpt);

}  // namespace vit
