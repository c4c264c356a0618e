// Attention rollout (Abnar & Zuidema 2020) and gradient rollout: which patches the class token drew
// on, block after block.
//
// Rollout, per block: fuse the heads (mean, max or min) into F (T, T); with a discard ratio r zero
// the floor(T*T*r) smallest entries of F (flat index 0, CLS->CLS, is never zeroed); A = (F + I) / 2;
// divide each row by its sum; R = A_last ... A_first. The map is row 0 (the class token) over the patch
// columns: every prefix token's column (class, distillation, registers) is dropped, leaving one value
// per patch in patch order. Models without a class token have no such row: their map is the mean of
// R's rows (every token's view of the patches), again over the patch columns.
// Gradient rollout for class c: F = mean over heads of max(0, A ⊙ d logit_c / dA), then the same
// discard, identity, normalisation and product.
// Chefer et al., ICCV 2021 ("Generic Attention-model Explainability for Interpreting Bi-Modal and
// Encoder-Decoder Transformers"), for class c: R = I, then per block, first to last, R <- R + Ā R with
// Ā = mean over heads of max(0, dlogit_c/dA ⊙ A). No discard and no normalisation: relevance adds up
// over the blocks rather than being averaged into a product of stochastic matrices. The map is R's
// class-token row over the patch columns (the mean of its rows without a class token), as for rollout.
// Last-block attention (the maps the DINO papers show): the class token's attention row of the last
// block over the patches, the mean of the heads or one head.
#pragma once
#include <memory>
#include <vector>

#include "vit/model/model.hpp"
#include "vit/util/tensor.hpp"

namespace vit {

enum class HeadFusion { Mean, Max, Min };
HeadFusion parse_head_fusion(const std::string& s);  // "mean" | "max" | "min"; ConfigError otherwise
const char* to_string(HeadFusion f);

struct RolloutOptions {
    HeadFusion fusion = HeadFusion::Mean;  // ignored by gradient rollout (always the mean)
    float discard_ratio = 0.0f;            // in [0, 1); ConfigError otherwise
    int first_block = 0;                   // blocks first_block .. last_block (inclusive) are used
    int last_block = -1;                   // -1: the last block
};

// Forward (and for gradients, one backward) pass keeping every block's attention and, when classes
// is given, d (Σ_i logit_{classes[i]} of image i) / d attention.
struct AttentionCapture {
    Tensor logits;                // (N, classes)
    std::vector<Tensor> attn;     // depth x (N, heads, T, T)
    std::vector<Tensor> grad;     // depth x (N, heads, T, T); empty without classes
};
// x (N, C, H, W). classes: one class per image, or empty for no gradients. Works in chunks of batch.
// dtype: the forward's number format; gradients need F32 (ConfigError otherwise).
AttentionCapture capture_attention(const Model& model, const Tensor& x, const std::vector<int>& classes, int batch,
                                   bool gradients, Dtype dtype = Dtype::F32);

// The same, for many batches: the network (a training-mode one when gradients are wanted) is built
// once. run() takes x (n, C, H, W) with n <= batch and, with gradients, one class per image.
class AttentionCapturer {
public:
    AttentionCapturer(const Model& model, int batch, bool gradients, Dtype dtype = Dtype::F32);
    ~AttentionCapturer();
    AttentionCapturer(const AttentionCapturer&) = delete;
    AttentionCapturer& operator=(const AttentionCapturer&) = delete;

    int batch() const;
    AttentionCapture run(const float* x, int n, const std::vector<int>& classes);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The tokens before the patches: how many, and whether the first is a class token (whose row the
// map is). timm's order is class, distillation, registers.
struct PrefixTokens {
    int count = 1;
    bool class_token = true;
};
PrefixTokens prefix_tokens(const ViTConfig& cfg);

// (N, patches) maps. attn, grad: depth x (N, heads, T, T).
Tensor attention_rollout(const std::vector<Tensor>& attn, const PrefixTokens& prefix, const RolloutOptions& opts);
Tensor gradient_rollout(const std::vector<Tensor>& attn, const std::vector<Tensor>& grad, const PrefixTokens& prefix,
                        const RolloutOptions& opts);
// opts: only the block range is used (no head fusion choice, no discard).
Tensor chefer_relevance(const std::vector<Tensor>& attn, const std::vector<Tensor>& grad, const PrefixTokens& prefix,
                        const RolloutOptions& opts);
// head -1: the mean of the heads. Throws ConfigError for a head out of range.
Tensor last_block_attention(const std::vector<Tensor>& attn, const PrefixTokens& prefix, int head = -1);

}  // namespace vit
