// vit: Vision Transformers in C++ on oneDNN. This header is the whole public API.
//
//   #include <vit/vit.hpp>
//
//   vit::Checkpoint ckpt = vit::load_checkpoint("models/cifar-t.safetensors");  // or a timm/HF folder
//   vit::Model model(ckpt);
//   vit::Runner runner(model, /*batch=*/8);
//   std::vector<float> x(8 * 3 * 32 * 32);
//   vit::preprocess(vit::load_image("cat.jpg", 3), model.preprocess(), x.data());   // image 0
//   const float* logits = runner.forward(x.data(), /*n=*/1);                     // (1, classes)
//   vit::Runner fast(model, 8, vit::RunOptions{false, 0, vit::Dtype::BF16});     // bf16 products (dtype.hpp)
//   vit::Runner int8(model, 8, vit::RunOptions{false, 0, vit::Dtype::Int8});     // int8 Linear layers
//   vit::cpu_support().bf16.mode;   // Native, Emulated or Refused here (cpu_support.hpp); a Runner in a
//                                   // refused dtype throws vit::UnsupportedError before any work
//
//   // Training (fit.hpp): a dataset in memory, the reference recipe, checkpoints in a run folder.
//   vit::LoadOptions lo;
//   lo.channels = 3, lo.height = lo.width = 32;
//   vit::DataSplit data = vit::load_dataset("cifar10/", lo);
//   vit::FitConfig fc;
//   fc.run_dir = "runs/cifar";
//   vit::fit(model, data, fc);
//
//   // Attention maps (explain.hpp): the class token's rollout over the patches, (N, patches).
//   vit::AttentionCapture cap = vit::capture_attention(model, images, {}, 8, /*gradients=*/false);
//   vit::Tensor maps = vit::attention_rollout(cap.attn, vit::prefix_tokens(model.config()),
//                                             vit::RolloutOptions{});
//
//   // Deployment (onnx_export.hpp): one .onnx file for ONNX Runtime or any other ONNX engine.
//   vit::export_onnx(model, "model.onnx", vit::OnnxExportOptions{});
//
// Errors are thrown as subclasses of vit::Error (error.hpp) and name the file, tensor or option.
#pragma once
#include "vit/atomic_file.hpp"
#include "vit/auto_augment.hpp"
#include "vit/checkpoint.hpp"
#include "vit/config.hpp"
#include "vit/cpu_support.hpp"
#include "vit/data.hpp"
#include "vit/dtype.hpp"
#include "vit/error.hpp"
#include "vit/evaluate.hpp"
#include "vit/explain.hpp"
#include "vit/export.hpp"
#include "vit/faithfulness.hpp"
#include "vit/fit.hpp"
#include "vit/hub_cache.hpp"
#include "vit/image_files.hpp"
#include "vit/image_header.hpp"
#include "vit/image_ops.hpp"
#include "vit/imagenet_labels.hpp"
#include "vit/logits.hpp"
#include "vit/memory.hpp"
#include "vit/mix64.hpp"
#include "vit/mixup.hpp"
#include "vit/model.hpp"
#include "vit/model_ema.hpp"
#include "vit/onnx_export.hpp"
#include "vit/patch_baseline.hpp"
#include "vit/pixels.hpp"
#include "vit/preprocess.hpp"
#include "vit/random_erasing.hpp"
#include "vit/safetensors.hpp"
#include "vit/saliency.hpp"
#include "vit/shape_check.hpp"
#include "vit/tensor.hpp"
#include "vit/train.hpp"
