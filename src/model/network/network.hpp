// The ViT computation graph, planned once per (configuration, batch size): layer primitives and
// activation buffers. Inference shares one set of buffers between blocks and fuses GELU into fc1;
// training keeps every block's activations for the backward pass. Parameters and their gradients
// live outside, in the flat buffers of vit::Parameters.
#pragma once
#include <vector>

#include "model/layers/attention.hpp"
#include "model/layers/convert.hpp"
#include "vit/util/cpu_support.hpp"
#include "vit/distributed/communicator.hpp"
#include "vit/util/dtype.hpp"
#include "model/layers/attention_pool.hpp"
#include "model/layers/dropout.hpp"
#include "model/layers/gelu.hpp"
#include "model/layers/int8_linear.hpp"
#include "model/layers/layernorm.hpp"
#include "model/layers/linear.hpp"
#include "vit/model/model.hpp"
#include "vit/model/regularization.hpp"
#include "model/network/activation_plan.hpp"

namespace vit {

// How a Network is planned (see Network's constructor).
struct NetworkOptions {
    bool training = false;             // keep every block's activations for backward()
    bool capture_attention = false;    // keep every block's attention probabilities (inference too)
    bool keep_attention_grad = false;  // training: backward also keeps d objective / d attention per block
    // Training only: dropout and stochastic depth. Drop-path makes block i drop each image's attention
    // and MLP branch with probability drop_path * i / (depth - 1), scaling kept ones by 1 / (1 - p). The
    // masks are drawn from set_noise_seed's seed.
    Regularization reg{};
    // The number format of the blocks' Linear products (vit/dtype.hpp). Inference in BF16 or Int8 needs
    // pack_weights() before forward(). Training in BF16 is mixed precision, as PyTorch's autocast: the
    // parameters (and the optimizer) stay f32, forward() rounds them into a bf16 copy once per step, and
    // qkv, proj, fc1 and fc2 run their forward, dx and dW products on bf16 inputs with f32 accumulation.
    // The attention's two products and their four backward products take bf16 operands too. LayerNorm,
    // the softmax, GELU, the residual stream, the patch embedding, pooling, the head and the loss stay
    // f32. Attention gradients (keep_attention_grad) are f32 only. Int8 is for inference only.
    Dtype dtype = Dtype::F32;
    // Training only: which images of a global batch, split across processes, this network computes
    // (BatchSlice's total 0: the network's batch is the whole batch). Dropout and drop-path masks are
    // drawn per image from its place in the global batch, so the processes together draw exactly the
    // masks of one process computing the whole batch.
    BatchSlice slice{};
    // Training only: the parameters that get gradients. backward() stops after the head (head_only) or
    // below block frozen_blocks, leaving the frozen parameters' gradients as they were.
    Trainable trainable{};
};

// A const view of what a training network's forward saved (and its backward left), for the relevance
// methods: row-major (rows, channels) buffers with rows (image, token), per block where indexed. Shapes
// use Network's letters: B images, T tokens, D width, H heads, Hm the MLP width, K classes, M = B*T,
// R pooled rows per image (2 when distilled), F the pooled width.
struct SavedActivations {
    int64_t B, T, D, H, Hm, K, M, R, F, prefix;
    const float* residual_base;   // residual stream slot k at residual_base + k*M*D: block i reads 2i, 2i+1
    const float* embedding;       // (M, D) the input embeddings (patches + position), before norm_pre
    const float* norm1_base;      // block i: (M, D) at + i*M*D, norm1(x_in)
    const float* norm2_base;      // block i: (M, D), norm2(x_mid)
    const float* qkv_base;        // block i: (M, 3D)
    const float* attention_base;  // block i: (B, H, T, T) softmax probabilities
    const float* ctx_base;        // block i: (M, D) attention output before proj
    const float* hidden_base;     // block i: (M, Hm) the activated MLP hidden layer
    const float* final_norm;      // (M, D) the final norm of every token (avg / map / token_avg pooling)
    const float* pooled;          // (R*B, D) pooled rows before fc_norm
    const float* pooled_norm;     // (R*B, F) the classifier's input
    const float* logits;          // (B, K) the output (the two heads' mean when distilled)
    const float* logits_dist;     // (B, K) the distillation head (distilled)
    const float* input_grad;      // (M, D) after backward: the gradient at the input embeddings
    layers::AttentionPool::Activations pool;  // global_pool map

    const float* residual(int k) const { return residual_base + k * M * D; }
    const float* norm1(int i) const { return norm1_base + i * M * D; }
    const float* norm2(int i) const { return norm2_base + i * M * D; }
    const float* qkv(int i) const { return qkv_base + i * 3 * M * D; }
    const float* attention(int i) const { return attention_base + i * B * H * T * T; }
    const float* ctx(int i) const { return ctx_base + i * M * D; }
    const float* hidden(int i) const { return hidden_base + i * M * Hm; }
};

class Network {
public:
    // Throws MemoryError, before allocating, when estimate_bytes exceeds the memory available.
    Network(const ViTConfig& cfg, int batch, const NetworkOptions& opts = {});

    // Bytes of the buffers the constructor sizes by the batch (per token row and per attention map),
    // plus the caller's input batch.
    static double estimate_bytes(const ViTConfig& cfg, int batch, const NetworkOptions& opts);
    // Bytes of every block's (heads, T, T) attention maps for `images` images, as run_forward and
    // capture_attention return them.
    static double attention_maps_bytes(const ViTConfig& cfg, int64_t images);

    // Seeds the dropout and drop-path masks of the next forward/backward pair.
    void set_noise_seed(uint64_t seed);

    int batch() const { return static_cast<int>(B_); }
    // BF16: converts the blocks' Linear weights of p, once, into the bf16 blocked layouts their kernels
    // read; Int8: quantises them per output channel into the kernels' s8 layouts. forward() must then be
    // given the same p (ConfigError otherwise). Nothing to do in f32.
    void pack_weights(const Parameters& p);
    // img (n, C, H, W), n <= batch; rows of absent images are zero. Returns the output (batch, outputs):
    // logits, or the pooled features of a model without a classifier.
    const float* forward(const Parameters& p, const float* img, int n);
    // dlogits (batch, classes) -> gradients accumulated into grads (same layout as the parameters).
    // Needs training = true, a classifier, and a preceding forward with the same parameters.
    void backward(const Parameters& p, const float* dlogits, Parameters& grads,
                  BackwardRule rule = BackwardRule::Gradient);
    // (batch, heads, T, T) softmax probabilities of block i (training, or capture_attention).
    const float* attention(int block) const;
    // (batch, heads, T, T) gradient of the backward's objective with respect to block i's attention.
    const float* attention_grad(int block) const;
    // (batch, heads, P) the attention pool's query over the patches (global_pool "map"), last forward.
    const float* pool_attention() const;

    // What the last forward (and backward) of a training network saved, for the relevance methods of
    // explain/ (Chefer et al.'s LRP, AttnLRP). Valid until the next forward.
    SavedActivations saved() const;

private:
    // A LayerNorm's backward under the rule: the exact one (accumulating dgamma, dbeta) or with the
    // normalisation scale held constant (parameter gradients left alone).
    static void norm_backward(BackwardRule rule, layers::LayerNorm& ln, const float* x, const float* mean,
                              const float* var, const float* gamma, const float* dy, float* dx, float* dgamma,
                              float* dbeta);
    float* stream(int k) { return xs_.data() + (modes_.training ? k * M_ * D_ : 0); }  // residual stream slot k
    const float* stream(int k) const { return xs_.data() + (modes_.training ? k * M_ * D_ : 0); }
    void im2col(const float* img, int n);
    void embed_forward(const Parameters& p);
    void embed_backward(Parameters& grads, float* dx);
    // x_out[b] = x_in[b] + scale[b] * gamma ⊙ branch[b] for the B images (the residual add under
    // drop-path and LayerScale; gamma null without LayerScale).
    void add_branch(const float* x_in, const float* scale, const float* gamma, const float* branch, float* x_out) const;
    // The gradient of a branch's output, mirroring add_branch and the branch's dropout:
    // dbranch_ = dropout_key(scale[b] * gamma ⊙ dy[b]), and dgamma += Σ scale[b] * dy[b] ⊙ branch[b].
    const float* branch_grad(const float* dy, const float* scale, const float* gamma, const float* branch,
                             float* dgamma, uint64_t key);
    float* branch(int k) { return branch_.data() + (modes_.per_branch ? k * M_ * D_ : 0); }  // branch slot k
    // Where a mask is drawn; each (step, site, block) has its own dropout key.
    enum class Site : uint64_t { Pos, Attention, Proj, Hidden, Mlp, Head };
    uint64_t key(Site site, int block) const;
    // The mask entry of element 0 of a (batch, per_image) tensor: its place in the global batch.
    int64_t mask_first(int64_t per_image) const { return first_image_ * per_image; }
    void head_dropout(float* rows) const;
    void pool_forward(const Parameters& p);
    void pool_backward(const Parameters& p, Parameters& g, float* dx, BackwardRule rule);
    // Where prefix token t's row (class, distillation, then registers) sits in the flat parameter and
    // gradient buffers.
    size_t prefix_offset(int64_t t) const;

    const ViTConfig c_;
    const ParamSlots off_;
    // The modes (training, kept maps, branches, regularisation) and the precision, fixed at construction,
    // and the buffers they call for.
    const NetworkModes modes_;
    const ActivationPlan plan_;
    using Mode = Precision::Mode;
    Mode mode() const { return modes_.precision.mode; }
    // B images, P patches, T tokens (prefix + patches), D width, H heads, Hm MLP width, K classes, O
    // outputs (K, or F without a classifier), M = B*T rows, R pooled rows per image (2 when distilled),
    // F the width of a pooled row (2D for TokenAvg, else D).
    const int64_t B_, P_, T_, D_, H_, Hm_, K_, O_, M_, R_, patch_len_, prefix_, F_;
    // This network's images in the global batch of the masks: [first_image_, first_image_ + B) of global_batch_.
    const int64_t first_image_, global_batch_;

    // Activations, (rows, channels) row-major with rows (image, token). Slots per block in training.
    std::vector<float> patches_;  // (B*P, C*p*p): im2col of the non-overlapping patches
    std::vector<float> tokens_;   // (B*P, D) patch embeddings
    std::vector<float> emb_;      // (B*T, D) tokens + position embedding, before norm_pre (pre_norm only)
    std::vector<float> emb_mean_, emb_var_;  // (B*T) norm_pre statistics (training)
    std::vector<float> xs_;       // residual stream (B*T, D): 2*depth+1 slots in training (in, mid, out...), else 1
    std::vector<float> ln1_, ln2_;                     // (B*T, D) per block: norm1(x_in), norm2(x_mid)
    std::vector<float> mean1_, var1_, mean2_, var2_;   // (B*T) per block: their statistics (training)
    std::vector<float> qkv_;                           // (B*T, 3D) per block
    std::vector<float> att_;                           // (B, H, T, T) per block with capture or training
    std::vector<float> ctx_;                           // (B*T, D) per block: attention output before proj
    std::vector<float> hpre_, hact_;                   // (B*T, Hm) per block: fc1 output, then activated
    std::vector<float> fin_;              // (B*T, D) final norm of every token (avg and map pooling)
    std::vector<float> fin_mean_, fin_var_;
    std::vector<float> pooled_;     // (R*B, D) rows (r, b): pooled features before fc_norm / the token rows
    std::vector<float> pooled_ln_;  // (R*B, F) after the final norm: the classifier's input
    std::vector<float> logits_, logits_dist_;  // (B, K) head; head_dist (distilled)
    std::vector<float> features_;              // (B, D) output without a classifier, distilled: row mean
    // Gradient scratch (training).
    std::vector<float> datt_all_;          // depth x (B, H, T, T) with keep_attention_grad
    std::vector<float> branch_, dbranch_;  // (B*T, D) a residual branch's output (per slot with LayerScale)
    std::vector<float> drop_scale_;        // depth x 2 x B: per block, branch and image, 0 or 1/keep
    std::vector<float> att_drop_;          // (B, H, T, T) dropped attention probabilities
    uint64_t noise_seed_ = 0;

    // bf16: the blocks' matmul inputs (norm1 / norm2 output, qkv, attention output, MLP hidden), each
    // (B*T, width) as their f32 twins above, which bf16 does not allocate; int8 uses qkv16_ and ctx16_
    // (int8 with f32 attention uses qkv_ and ctx_ instead).
    // Mixed-precision training keeps them per block for the backward (ln16_: norm1 of block i in slot
    // 2i, norm2 in 2i + 1), and hact_ as one f32 scratch slot (the GELU's output, then rounded into h16_).
    std::vector<layers::Bf16> ln16_, qkv16_, ctx16_, h16_;
    // Mixed-precision training: the whole parameter buffer rounded to bf16 (same offsets), refreshed by
    // every forward from the f32 master weights, and the conversion of the MLP hidden activations.
    std::vector<layers::Bf16> params16_;
    layers::Convert params_to_bf16_, h_to_bf16_;
    struct PackedBlock {
        dnnl::memory qkv, proj, fc1, fc2;
    };
    std::vector<PackedBlock> packed_;           // per block, from pack_weights
    // int8: the blocks' Linear weights quantised (pack_weights), their quantised inputs (norm1 / norm2
    // output and the attention output share xq_, (B*T, D); the MLP hidden layer hq_, (B*T, Hm)), and
    // the int32 products, (B*T, max(3D, Hm)), shared by the four layers. The attention's qkv16_ and
    // ctx16_ are bf16, as in a bf16 network (qkv_ and ctx_ in f32 where the precision's attention is F32).
    struct Int8Block {
        layers::Int8Weights qkv, proj, fc1, fc2;
    };
    std::vector<Int8Block> int8_weights_;
    layers::QuantizedRows xq_, hq_;
    std::vector<std::int32_t> acc_;
    layers::Int8Linear qkv8_, proj8_, fc1_8_, fc2_8_;
    layers::LayerNorm ln_to_u8_;  // int8: norm1 and norm2, quantising their output
    // One block's forward in int8; the residual stream slots as in forward().
    void int8_block(const Parameters& p, int i, float* x_in, float* x_mid, float* x_out, float* att);
    const Parameters* packed_from_ = nullptr;  // the parameters packed_ / int8_weights_ hold
    // A block Linear's weight as its products read it: the f32 tensor at offset in p, the packed copy
    // (bf16 inference) or the bf16 copy at the same offset (mixed-precision training).
    const void* weight(const Parameters& p, size_t offset, int block, dnnl::memory PackedBlock::*packed) const;
    // Block i's bf16 matmul inputs in mixed-precision training (slot i; one slot in bf16 inference).
    // Block i's Linear operands and attention maps, wherever the precision keeps them: f32 buffers (per
    // block in training) or bf16 ones (per block in mixed-precision training, where GELU writes an f32
    // scratch `hidden` that is then rounded into fc2's input `hidden_in`).
    struct BlockOperands {
        void *ln1, *ln2, *qkv, *ctx, *hidden, *hidden_in;
        float* att;
    };
    BlockOperands operands(int i);
    std::vector<float> dx_, dtmp_, dqkv_, datt_, dctx_, dh_, dpre_, dpooled_, dpooled_ln_, dtokens_, dfin_, dhalf_;

    layers::Linear patch_, qkv_l_, proj_, fc1_, fc2_, head_, head_dist_;
    layers::Attention attn_;
    layers::AttentionPool attn_pool_;
    layers::Gelu gelu_;
    layers::Dropout drop_, head_drop_;
    layers::LayerNorm ln_tokens_, ln_rows_;
    layers::LayerNorm ln_to_bf16_;  // bf16 (both modes): norm1 and norm2, rounding their output for the next matmul
};

}  // namespace vit
