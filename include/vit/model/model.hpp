// The ViT model: weights (Model) separate from per-run buffers and oneDNN primitives (Runner).
//
//   x (B, C, H, W)
//   patch_embed: conv stride=patch          -> (B, P, D)
//   [cls_token ; patches] + pos_embed       -> (B, T, D)     T = P + 1 with a class token
//   depth x block:  x += proj(attn(norm1(x)));  x += fc2(gelu(fc1(norm2(x))))
//   norm | fc_norm, pool (class token or mean of the patch tokens), head -> (B, classes)
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vit/model/checkpoint.hpp"
#include "vit/model/config.hpp"
#include "vit/util/dtype.hpp"
#include "vit/util/tensor.hpp"

namespace vit {

// What a parameter tensor is, for initialisation and weight decay (never decided from its name).
enum class ParamRole {
    Weight,      // a Linear or patch-embedding weight (decayed)
    Bias,        // a Linear or patch-embedding bias
    NormWeight,  // a LayerNorm scale
    NormBias,    // a LayerNorm shift
    PosEmbed,    // the position embedding
    Token,       // a learned prefix token: class, distillation, registers
    Latent,      // the attention pool's learned query (timm decays it, as a weight)
    LayerScale,  // ls1.gamma / ls2.gamma
};

// One parameter of the model: timm's name and shape, its role, and its place in the flat buffer.
struct ParamView {
    std::string name;
    Shape shape;
    ParamRole role = ParamRole::Weight;
    int64_t fan_in = 0;  // the input width of the layer a Weight or Bias belongs to
    size_t offset = 0;
    size_t numel = 0;
    // Where it sits in the network: -1 the embedding (patch embedding, prefix tokens, position
    // embedding, norm_pre), i block i, depth after the blocks (final norm, attention pool, head).
    int block = -1;
    // timm's layer id for layer-wise lr decay, as param_groups_layer_decay derives it from its ViT
    // group_matcher: 0 the embedding, i + 1 block i, the final `norm` (and norm_pre, which the pattern
    // '^norm' also takes) with the last block at depth, and depth + 1 for what no pattern names
    // (fc_norm, the attention pool, the heads).
    int decay_layer = 0;
    bool head = false;  // the classifier (head, head_dist)
};

// Offsets of the parameters in the flat buffer, by what they are. kNoParam where the configuration
// has no such tensor (no qkv bias, no class token, no LayerScale, ...). The one schema that the
// loaders, the network, initialisation and the optimizer all read: timm's names are spelled only in
// param_layout.
constexpr size_t kNoParam = static_cast<size_t>(-1);
struct BlockParams {
    size_t norm1_w, norm1_b, qkv_w, qkv_b, proj_w, proj_b, ls1;
    size_t norm2_w, norm2_b, fc1_w, fc1_b, fc2_w, fc2_b, ls2;
};
struct AttnPoolParams {  // timm's AttentionPoolLatent (global_pool "map")
    size_t latent, q_w, q_b, kv_w, kv_b, proj_w, proj_b, norm_w, norm_b, fc1_w, fc1_b, fc2_w, fc2_b;
};
struct ParamSlots {
    size_t patch_w, patch_b, cls, dist, reg, pos, norm_pre_w, norm_pre_b;
    std::vector<BlockParams> blocks;
    size_t norm_w, norm_b;  // the final norm: `norm` before pooling, or `fc_norm` after it
    AttnPoolParams pool;
    size_t head_w, head_b, head_dist_w, head_dist_b;
};

struct ParamLayout {
    std::vector<ParamView> views;  // timm's order and names
    ParamSlots slots;
    size_t size = 0;  // floats in the flat buffer (every tensor 64-byte aligned)
};
ParamLayout param_layout(const ViTConfig& cfg);

// All parameters in one contiguous float buffer (and gradients, for training, in a twin buffer of the
// same layout: one place an optimizer or an allreduce can reach).
class Parameters {
public:
    explicit Parameters(const ViTConfig& cfg);

    const std::vector<ParamView>& views() const { return layout_.views; }
    const ParamSlots& slots() const { return layout_.slots; }
    const ParamView& view(const std::string& name) const;  // throws ShapeError if unknown
    float* get(const std::string& name) { return data_.data() + view(name).offset; }
    const float* get(const std::string& name) const { return data_.data() + view(name).offset; }
    bool has(const std::string& name) const;
    float* data() { return data_.data(); }
    const float* data() const { return data_.data(); }
    size_t size() const { return data_.size(); }

    // Copies every parameter from weights, checking presence and shape (ShapeError names the tensor,
    // the expected and the actual shape, and the source). Returns names present in weights but unused.
    std::vector<std::string> load(const TensorMap& weights, const std::string& source);
    TensorMap to_map() const;

private:
    ParamLayout layout_;
    std::vector<float> data_;
};

// Random initialisation schemes.
enum class Init {
    Timm,   // timm's VisionTransformer: trunc-normal(0.02) Linear weights, zero biases, normal(1e-6)
            // cls_token, trunc-normal(0.02) pos_embed
    Torch,  // PyTorch module defaults, as the plain-PyTorch anchor model has them: Linear weight and
            // bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), zero cls_token, normal(0.02) pos_embed
};
Init parse_init(const std::string& s);  // "timm" | "torch"; ConfigError otherwise

// Fine-tuning on another class count: a new classifier (and DeiT's distillation classifier) with
// `classes` outputs, weights trunc-normal(0.02) from the seed and zero biases, as timm's reset_classifier
// and init do; num_classes 0 removes them. The labels are left to the caller.
void replace_head(Checkpoint& ckpt, int classes, uint64_t seed);

class Model {
public:
    explicit Model(const Checkpoint& ckpt);
    // A randomly initialised model (LayerNorm always unit scale, zero shift; the patch embedding always
    // PyTorch's Conv2d default), reproducible from the seed.
    Model(const ViTConfig& cfg, const PreprocessConfig& pre, std::vector<std::string> labels, uint64_t seed,
          Init init = Init::Timm);

    const ViTConfig& config() const { return config_; }
    const PreprocessConfig& preprocess() const { return preprocess_; }
    const std::vector<std::string>& labels() const { return labels_; }
    const std::vector<std::string>& unused_tensors() const { return unused_; }
    Parameters& params() { return params_; }
    const Parameters& params() const { return params_; }
    Checkpoint to_checkpoint() const;

private:
    ViTConfig config_;
    PreprocessConfig preprocess_;
    std::vector<std::string> labels_;
    std::vector<std::string> unused_;
    Parameters params_;
};

// Set by name, never by position: RunOptions{}.with_dtype(Dtype::Int8).with_threads(4).
struct RunOptions {
    bool capture_attention = false;  // keep every block's softmax(QK^T) for attention() / rollout
    int threads = 0;                 // 0: oneDNN/OpenMP default
    Dtype dtype = Dtype::F32;        // number format of the matrix products (util/dtype.hpp)

    RunOptions& with_attention(bool keep = true) { capture_attention = keep; return *this; }
    RunOptions& with_threads(int n) { threads = n; return *this; }
    RunOptions& with_dtype(Dtype d) { dtype = d; return *this; }
};

// Per-(model, batch size) state: oneDNN primitives, weights in their preferred layout (bf16: converted
// and packed once here) and activation buffers, all created in the constructor and reused by every
// forward(). The model must not change while a Runner uses it.
class Runner {
public:
    Runner(const Model& model, int batch, RunOptions opts = {});
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    int batch() const;
    // x: (n, C, H, W) normalised images, n <= batch. Returns logits (n, num_classes), valid until the
    // next call.
    const float* forward(const float* x, int n);
    // (batch, heads, T, T) softmax probabilities of block i from the last forward; needs
    // capture_attention (throws ConfigError otherwise).
    const float* attention(int block) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Convenience: logits (N, classes) for a tensor (N, C, H, W), with optional attention (N, heads, T, T)
// per block.
Tensor run_forward(const Model& model, const Tensor& x, int batch, std::vector<Tensor>* attention = nullptr,
                   Dtype dtype = Dtype::F32);

void softmax_rows(const float* logits, int rows, int cols, float* probs);

}  // namespace vit
