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
#pragma once
#include <string>

namespace vit {

enum class Dtype { F32, BF16 };

const char* to_string(Dtype d);
Dtype parse_dtype(const std::string& s);  // "f32" | "bf16"; ConfigError otherwise

}  // namespace vit
