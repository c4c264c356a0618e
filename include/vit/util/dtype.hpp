// The number format of the matrix products (RunOptions::dtype, NetworkOptions::dtype, OptimConfig::dtype).
//
//   F32   everything in 32-bit floats.
//   BF16  the inputs and weights of the blocks' Linear layers (qkv, proj, fc1, fc2) and of the two
//         attention products (Q Kᵀ, A V) in bfloat16, products accumulated in f32. The weights are
//         converted once, when the Runner is built, into the blocked layout oneDNN's kernel prefers.
//         The residual stream, LayerNorm, the softmax (its statistics and its probabilities as kept
//         for attention maps), the patch embedding, pooling and the classifier stay in f32: they are
//         under 1% of the work of a ViT and carry the values rounding would hurt most.
//         In training (OptimConfig::dtype) BF16 is mixed precision: f32 master weights and optimizer
//         state, the block Linears' forward, dx and dW products on bf16 inputs (docs/ARCHITECTURE.md).
//   INT8  dynamic quantisation of the blocks' Linear layers (as ONNX Runtime's quantize_dynamic, but
//         finer): weights signed 8-bit, symmetric, one scale per output channel, quantised once when
//         the Runner is built; activations unsigned 8-bit with one scale and offset per token (row of
//         the (B*T, C) input), quantised at run time; products accumulated in int32 and rescaled to
//         f32 (src/model/layers/int8_linear.hpp). The attention products (Q Kᵀ, A V) run in bf16 where the CPU
//         has bf16 products and in f32 elsewhere (cpu_support.hpp); LayerNorm, softmax, GELU and the
//         residual stream stay in f32, as do the embedding, pooling and the classifier.
//
// Which dtype runs on which CPU is asked of oneDNN once per process (cpu_support.hpp): f32 everywhere;
// bf16 on AVX-512 (native with AVX512_BF16 or AMX, emulated on plain AVX512_CORE), refused below;
// int8 wherever oneDNN has u8 x s8 products (AVX2 included; native with VNNI).
#pragma once
#include <string>

namespace vit {

enum class Dtype { F32, BF16, Int8 };

const char* to_string(Dtype d);
Dtype parse_dtype(const std::string& s);  // "f32" | "bf16" | "int8"; ConfigError otherwise

}  // namespace vit
