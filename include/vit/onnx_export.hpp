// ONNX export: the model as one self-contained .onnx file (graph, weights, preprocessing), for ONNX
// Runtime or any other ONNX engine.
//
//   pixel_values (batch, C, H, W)  normalised images, as Runner::forward takes them; batch is dynamic
//   logits       (batch, classes)  or, without a classifier (num_classes 0), features (batch, embed_dim)
//   attn.<i>     (batch, heads, T, T) block i's softmax(q kᵀ / √head_dim), with OnnxExportOptions::attention
//
// Every parameter is an initializer under its timm name and shape (param_layout). Opset 17, the newest
// that Debian's ONNX 1.12 knows: LayerNormalization is an operator; GELU is written out with Erf
// (the Gelu operator only comes with opset 20). The file's metadata_props hold what a deployment needs
// besides the graph:
//   vit.preprocess  the preprocessing as JSON (channels, height, width, interpolation, resize_mode,
//                   crop_pct, mean, std): the same text as a native checkpoint's "vit.preprocess"
//   vit.labels      the class names, a JSON array (empty without a classifier)
//   vit.config      timm VisionTransformer keyword arguments, JSON (as a native checkpoint's "vit.config")
//   vit.input       {"name": "pixel_values", "shape": ["batch", C, H, W]}
//   vit.output      {"name": "logits" | "features", "shape": ["batch", width]}
#pragma once
#include <string>

#include "vit/model.hpp"

namespace vit {

struct OnnxExportOptions {
    bool attention = false;  // also output every block's attention probabilities, "attn.<i>"
    int opset = 17;          // the ONNX operator set written; only 17 is supported
};

// Writes the model to path atomically (a temporary file, then a rename). Before writing, the model is
// run through ONNX's checker and its strict shape inference (the C++ form of
// onnx.checker.check_model(full_check=True)), which must agree with the declared output shapes.
// Throws ConfigError (unsupported opset), FormatError (the graph fails ONNX's checks, or exceeds
// protobuf's 2 GiB limit) or IoError (cannot write path), each naming path.
void export_onnx(const Model& model, const std::string& path, const OnnxExportOptions& opts = {});

}  // namespace vit
