// Checkpoint files (model/checkpoint.hpp is the struct they hold).
//
// load_checkpoint(PATH) accepts
//   (a) a timm folder: model.safetensors + config.json (VisionTransformer kwargs, optional pretrained_cfg);
//   (b) a Hugging Face folder: model.safetensors + config.json (+ preprocessor_config.json) of
//       ViTModel / ViTForImageClassification, DeiTModel / DeiTForImageClassification(WithTeacher),
//       Dinov2Model / Dinov2ForImageClassification and their WithRegisters variants; the tensors are
//       renamed to timm's (query/key/value fused into qkv), see src/io/checkpoint/hf_*.cpp;
//   (c) our own single .safetensors file whose metadata holds "vit.config", "vit.labels" and
//       "vit.preprocess" as JSON.
// Weights always come out under timm's names (see model/model.hpp: param_layout).
#pragma once
#include <string>

#include "vit/model/checkpoint.hpp"

namespace vit {

// Throws IoError, FormatError, ConfigError or ShapeError naming the file and the tensor.
Checkpoint load_checkpoint(const std::string& path);

// Writes format (c). Atomic (temporary file, then rename).
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);

// JSON forms used at the file boundary (exposed for tests and tools).
std::string config_to_json(const ViTConfig& c);
ViTConfig config_from_json(const std::string& json, const std::string& source);  // timm kwargs names
std::string preprocess_to_json(const PreprocessConfig& p);

}  // namespace vit
