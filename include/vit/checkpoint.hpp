// Model checkpoints: everything needed to run a model (configuration, labels, preprocessing, weights).
//
// load_checkpoint(PATH) accepts
//   (a) a timm folder: model.safetensors + config.json (VisionTransformer kwargs, optional pretrained_cfg);
//   (b) a Hugging Face folder: model.safetensors + config.json (+ preprocessor_config.json) of
//       ViTModel / ViTForImageClassification, DeiTModel / DeiTForImageClassification(WithTeacher),
//       Dinov2Model / Dinov2ForImageClassification and their WithRegisters variants; the tensors are
//       renamed to timm's (query/key/value fused into qkv), see src/checkpoint/hf_*.cpp;
//   (c) our own single .safetensors file whose metadata holds "vit.config", "vit.labels" and
//       "vit.preprocess" as JSON.
// Weights always come out under timm's names (see model.hpp: param_layout).
#pragma once
#include <string>
#include <vector>

#include "vit/config.hpp"
#include "vit/tensor.hpp"

namespace vit {

enum class CheckpointFormat { Timm, HuggingFace, Native };

struct Checkpoint {
    ViTConfig config;
    PreprocessConfig preprocess;
    std::vector<std::string> labels;  // num_classes entries; default_labels() where the source has none
    TensorMap weights;                // timm names
    // Training state, in native checkpoints written by vit::fit (empty otherwise): AdamW moments as
    // "optimizer.exp_avg.<param>" / "optimizer.exp_avg_sq.<param>", the weight EMA as
    // "optimizer.model_ema.<param>" where the run keeps one, and a JSON progress record.
    TensorMap optimizer;
    std::string train_state;
    CheckpointFormat format = CheckpointFormat::Native;
    std::string source;               // the path it was loaded from
};

// Throws IoError, FormatError, ConfigError or ShapeError naming the file and the tensor.
Checkpoint load_checkpoint(const std::string& path);

// The checks every loader ends with: configuration and preprocessing valid and consistent, one label
// per class ("class_<i>" filled in where the source has none). ConfigError names ckpt.source.
void validate_checkpoint(Checkpoint& ckpt);

// Writes format (c). Atomic (temporary file, then rename).
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);

// Runs the checkpoint at another image size: sets config img_h/img_w and the preprocessing size, and
// resamples pos_embed's patch grid bicubically as timm's resample_abs_pos_embed does (prefix rows kept,
// none with no_embed_class). Throws ConfigError if the size is not divisible by the patch size.
void set_image_size(Checkpoint& ckpt, int img_h, int img_w);

// Bicubic resampling of a (gh*gw, C) grid to (nh*nw, C), PyTorch's interpolate(mode="bicubic",
// align_corners=False, antialias=True) as timm calls it: Keys' a = -0.5, taps beyond the border
// dropped and the weights renormalised, the kernel widened by the factor when shrinking.
std::vector<float> resample_grid_bicubic(const float* src, int gh, int gw, int channels, int nh, int nw);

// JSON forms used at the file boundary (exposed for tests and tools).
std::string config_to_json(const ViTConfig& c);
ViTConfig config_from_json(const std::string& json, const std::string& source);  // timm kwargs names
std::string preprocess_to_json(const PreprocessConfig& p);

}  // namespace vit
