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
//   vit.dtype       "f32" or "int8"; with int8 also vit.int8_weight_levels ("127" or "63")
#pragma once
#include <string>

#include "vit/util/dtype.hpp"
#include "vit/model/model.hpp"

namespace vit {

// Dtype::Int8 quantises the blocks' Linear layers (qkv, proj, fc1, fc2) as `vit ... --dtype int8` runs
// them (src/model/layers/int8_linear.hpp), in standard operators that ONNX Runtime runs on every CPU:
//   lo, hi = ReduceMin, ReduceMax of x over its last axis          one grid per token, as ours
//   s = (hi - lo) / 255;  q = Cast<uint8>(Floor(Min((x - lo) / s, 255) + 0.5))
//   acc = MatMulInteger(q, Wq)                                     Wq int8 (in, out), per output channel
//   y = s · (sw · acc) + (lo · sw·ΣWq + b)
// That is ONNX Runtime's quantize_dynamic (DynamicQuantizeLinear + MatMulInteger, per-channel weights)
// with one activation grid per token instead of one per tensor, so the file computes what our int8
// runner computes. The initializers are "<timm name>_quantized" (int8), "_scale" and "_sum"; the
// attention, norms, embedding and head stay f32.
struct OnnxExportOptions {
    bool attention = false;  // also output every block's attention probabilities, "attn.<i>"
    int opset = 17;          // the ONNX operator set written; only 17 is supported
    Dtype dtype = Dtype::F32;  // F32 or Int8 (above); BF16 is a ConfigError
    // Int8: the weights' levels a side, 127 (8 bits) or 63 (7 bits: ONNX Runtime's reduce_range, for
    // CPUs without VNNI, whose int16 sums would saturate); 0 takes what this CPU's int8 runner uses.
    int int8_weight_levels = 0;
};

// Writes the model to path atomically (a temporary file, then a rename). Before writing, the model is
// run through ONNX's checker and its strict shape inference (the C++ form of
// onnx.checker.check_model(full_check=True)), which must agree with the declared output shapes.
// Throws ConfigError (unsupported opset), FormatError (the graph fails ONNX's checks, or exceeds
// protobuf's 2 GiB limit) or IoError (cannot write path), each naming path.
void export_onnx(const Model& model, const std::string& path, const OnnxExportOptions& opts = {});

}  // namespace vit
