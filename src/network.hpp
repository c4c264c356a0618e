// The ViT computation graph, planned once per (configuration, batch size): layer primitives and
// activation buffers. Inference shares one set of buffers between blocks and fuses GELU into fc1;
// training keeps every block's activations for the backward pass. Parameters and their gradients
// live outside, in the flat buffers of vit::Parameters.
#pragma once
#include <vector>

#include "vit/layers/attention.hpp"
#include "vit/layers/dropout.hpp"
#include "vit/layers/gelu.hpp"
#include "vit/layers/layernorm.hpp"
#include "vit/layers/linear.hpp"
#include "vit/model.hpp"
#include "vit/train.hpp"

namespace vit {

class Network {
public:
    // keep_attention_grad (training only): backward also keeps d loss / d attention of every block.
    // reg (training only): dropout and stochastic depth. Drop-path makes block i drop each image's
    // attention and MLP branch with probability drop_path * i / (depth - 1), scaling kept ones by
    // 1 / (1 - p). The masks are drawn from set_noise_seed's seed.
    Network(const ViTConfig& cfg, int batch, bool training, bool capture_attention, bool keep_attention_grad = false,
            const Regularization& reg = {});

    // Seeds the dropout and drop-path masks of the next forward/backward pair.
    void set_noise_seed(uint64_t seed);

    int batch() const { return static_cast<int>(B_); }
    // img (n, C, H, W), n <= batch; rows of absent images are zero. Returns logits (batch, classes).
    const float* forward(const Parameters& p, const float* img, int n);
    // dlogits (batch, classes) -> gradients accumulated into grads (same layout as the parameters).
    // Needs training = true and a preceding forward with the same parameters.
    void backward(const Parameters& p, const float* dlogits, Parameters& grads);
    // (batch, heads, T, T) softmax probabilities of block i (training, or capture_attention).
    const float* attention(int block) const;
    // (batch, heads, T, T) gradient of the backward's objective with respect to block i's attention.
    const float* attention_grad(int block) const;

private:
    float* stream(int k) { return xs_.data() + (training_ ? k * M_ * D_ : 0); }  // residual stream slot k
    void im2col(const float* img, int n);
    // x_out[b] = x_in[b] + scale[b] * branch[b] for the B images (the residual add under drop-path).
    void add_branch(const float* x_in, const float* scale, float* x_out) const;
    // dbranch_ = dropout_key(scale[b] * dy[b]): the gradient of a branch's output, mirroring add_branch
    // and the branch's dropout.
    const float* branch_grad(const float* dy, const float* scale, uint64_t key);
    // Where a mask is drawn; each (step, site, block) has its own dropout key.
    enum class Site : uint64_t { Pos, Attention, Proj, Hidden, Mlp, Head };
    uint64_t key(Site site, int block) const;
    void pool_forward(const Parameters& p);
    void pool_backward(const Parameters& p, Parameters& g, float* dx);

    // Where each parameter sits in the flat parameter (and gradient) buffer, resolved once so that a
    // pass does no name lookups. kNone marks an absent parameter (qkv bias, class token).
    static constexpr size_t kNone = static_cast<size_t>(-1);
    struct BlockOffsets {
        size_t norm1_w, norm1_b, qkv_w, qkv_b, proj_w, proj_b, norm2_w, norm2_b, fc1_w, fc1_b, fc2_w, fc2_b;
    };
    struct Offsets {
        size_t patch_w, patch_b, cls, pos, norm_w, norm_b, head_w, head_b;
        std::vector<BlockOffsets> blocks;
    };
    static Offsets resolve(const ViTConfig& cfg);

    const ViTConfig c_;
    const Offsets off_;
    const bool training_, per_block_, keep_att_grad_;
    const Regularization reg_;  // all zero unless training
    // The residual branches (proj, fc2) write their own buffer, to be dropped and scaled before the add,
    // instead of accumulating into the residual stream.
    const bool branched_;
    const int64_t B_, P_, T_, D_, H_, Hd_, K_, M_, patch_len_, prefix_;

    // Activations, (rows, channels) row-major with rows (image, token). Slots per block in training.
    std::vector<float> patches_;  // (B*P, C*p*p): im2col of the non-overlapping patches
    std::vector<float> tokens_;   // (B*P, D) patch embeddings
    std::vector<float> xs_;       // residual stream: 2*depth+1 slots in training (in, mid, out...), else 1
    std::vector<float> ln1_, ln2_, mean1_, var1_, mean2_, var2_;
    std::vector<float> qkv_, att_, ctx_, hpre_, hact_;
    std::vector<float> fin_;              // (B*T, D) final norm of every token (avg pool without fc_norm)
    std::vector<float> fin_mean_, fin_var_;
    std::vector<float> pooled_, pooled_ln_, logits_;
    // Gradient scratch (training).
    std::vector<float> datt_all_;  // depth x (B, H, T, T) with keep_attention_grad
    std::vector<float> branch_, dbranch_;  // (B*T, D) a residual branch's output and its gradient
    std::vector<float> drop_scale_;        // depth x 2 x B: per block, branch and image, 0 or 1/keep
    std::vector<float> att_drop_;          // (B, H, T, T) dropped attention probabilities
    uint64_t noise_seed_ = 0;
    std::vector<float> dx_, dtmp_, dqkv_, datt_, dctx_, dh_, dpre_, dpooled_, dpooled_ln_, dtokens_, dfin_;

    layers::Linear patch_, qkv_l_, proj_, fc1_, fc2_, head_;
    layers::Attention attn_;
    layers::Gelu gelu_;
    layers::Dropout drop_, head_drop_;
    layers::LayerNorm ln_tokens_, ln_rows_;
};

}  // namespace vit
