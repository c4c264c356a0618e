// A checkpoint in memory: everything needed to run a model (configuration, labels, preprocessing,
// weights under timm's names, and a training run's state). io/checkpoint.hpp reads and writes them;
// model.hpp makes a Model of one.
#pragma once
#include <string>
#include <vector>

#include "vit/image/preprocess.hpp"
#include "vit/model/config.hpp"
#include "vit/util/tensor.hpp"

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

// The checks every loader ends with: configuration and preprocessing valid and consistent, one label
// per class ("class_<i>" filled in where the source has none). ConfigError names ckpt.source.
void validate_checkpoint(Checkpoint& ckpt);

// Runs the checkpoint at another image size: sets config img_h/img_w and the preprocessing size, and
// resamples pos_embed's patch grid bicubically as timm's resample_abs_pos_embed does (prefix rows kept,
// none with no_embed_class). Throws ConfigError if the size is not divisible by the patch size.
void set_image_size(Checkpoint& ckpt, int img_h, int img_w);

// Bicubic resampling of a (gh*gw, C) grid to (nh*nw, C), PyTorch's interpolate(mode="bicubic",
// align_corners=False, antialias=True) as timm calls it: Keys' a = -0.5, taps beyond the border
// dropped and the weights renormalised, the kernel widened by the factor when shrinking.
std::vector<float> resample_grid_bicubic(const float* src, int gh, int gw, int channels, int nh, int nw);


}  // namespace vit
