// vit: Vision Transformers in C++ on oneDNN. This header is the whole public API.
//
//   #include <vit/vit.hpp>
//
//   vit::Checkpoint ckpt = vit::load_checkpoint("models/cifar-t.safetensors");  // or a timm/HF folder
//   vit::Model model(ckpt);
//   vit::Runner runner(model, /*batch=*/8);
//   vit::Tensor x = vit::preprocess_file("cat.jpg", model.preprocess());     // (C, H, W), PIL-exact
//   const float* logits = runner.forward(x.data(), /*n=*/1);                  // (1, classes)
//
//   vit::RunOptions opts;                       // options are structs with named fields
//   opts.dtype = vit::Dtype::Int8;              // int8 Linear layers (util/dtype.hpp); BF16 needs AVX-512
//   vit::Runner int8(model, 8, opts);
//   vit::cpu_support().bf16.mode;   // Native, Emulated or Refused here (util/cpu_support.hpp); a Runner
//                                   // in a refused dtype throws vit::UnsupportedError before any work
//
//   // Training (train/fit.hpp): a dataset in memory, the reference recipe, checkpoints in a run folder.
//   vit::LoadOptions lo;
//   lo.channels = 3, lo.height = lo.width = 32;
//   vit::DataSplit data = vit::load_dataset("cifar10/", lo);
//   vit::FitConfig fc;
//   fc.run_dir = "runs/cifar";
//   vit::fit(model, data, fc);
//
//   // Attention maps (explain/attention_maps.hpp): the class token's rollout over the patches, (N, patches).
//   vit::AttentionCapture cap = vit::capture_attention(model, images, {}, 8, /*gradients=*/false);
//   vit::Tensor maps = vit::attention_rollout(cap.attn, vit::prefix_tokens(model.config()),
//                                             vit::RolloutOptions{});
//
//   // Deployment (io/onnx_export.hpp): one .onnx file for ONNX Runtime or any other ONNX engine.
//   vit::export_onnx(model, "model.onnx", vit::OnnxExportOptions{});
//
// Errors are thrown as subclasses of vit::Error (util/error.hpp) and name the file, tensor or field.
//
// The headers below, one folder per subsystem in layer order (docs/ARCHITECTURE.md), are everything
// that is installed; none of them names oneDNN or OpenCV.
#pragma once

#include "vit/util/atomic_file.hpp"
#include "vit/util/cpu_support.hpp"
#include "vit/util/dtype.hpp"
#include "vit/util/error.hpp"
#include "vit/util/logits.hpp"
#include "vit/util/memory.hpp"
#include "vit/util/tensor.hpp"

#include "vit/distributed/communicator.hpp"

#include "vit/image/extensions.hpp"
#include "vit/image/geometry.hpp"
#include "vit/image/header.hpp"
#include "vit/image/interpolation.hpp"
#include "vit/image/preprocess.hpp"

#include "vit/data/dataset.hpp"
#include "vit/data/image_batches.hpp"
#include "vit/data/augment/auto_augment.hpp"
#include "vit/data/augment/color_jitter.hpp"
#include "vit/data/augment/mixup.hpp"
#include "vit/data/augment/random_erasing.hpp"
#include "vit/data/augment/resized_crop.hpp"

#include "vit/model/checkpoint.hpp"
#include "vit/model/config.hpp"
#include "vit/model/imagenet_labels.hpp"
#include "vit/model/model.hpp"
#include "vit/model/regularization.hpp"
#include "vit/model/trainable.hpp"

#include "vit/io/architectures.hpp"
#include "vit/io/checkpoint.hpp"
#include "vit/io/export.hpp"
#include "vit/io/hub_cache.hpp"
#include "vit/io/onnx_export.hpp"
#include "vit/io/safetensors.hpp"

#include "vit/train/evaluate.hpp"
#include "vit/train/fit.hpp"
#include "vit/train/model_ema.hpp"
#include "vit/train/trainer.hpp"

#include "vit/explain/attention_maps.hpp"
#include "vit/explain/faithfulness.hpp"
#include "vit/explain/patch_baseline.hpp"
#include "vit/explain/saliency.hpp"
