// What a Network allocates, decided once from (configuration, batch, modes), as llm.c's
// ActivationTensors: every buffer by name with its element count. The constructor allocates from this
// plan and Network::estimate_bytes sums it, so the memory check and the allocation have one source.
// Private to the library.
#pragma once
#include <cstdint>

#include "vit/model/config.hpp"
#include "vit/model/regularization.hpp"
#include "vit/model/trainable.hpp"
#include "vit/util/dtype.hpp"

namespace vit {

// How the blocks' matrix products run: the one choice of number formats, made once per network from
// the dtype, training and this CPU (cpu_support), and read by the plan and the passes alike.
struct Precision {
    enum class Mode {
        F32,        // f32 everywhere
        Bf16,       // inference: the blocks' products on bf16 operands, weights packed once
        MixedBf16,  // training: f32 master weights rounded to bf16 every step, bf16 operands kept per block
        Int8,       // inference: u8 x s8 Linear layers, weights quantised and packed once
    };
    Mode mode = Mode::F32;
    // The attention's two batched products: BF16 in Bf16 and MixedBf16, and in Int8 where this CPU has
    // bf16 products (CpuSupport::int8_attention); F32 otherwise.
    Dtype attention = Dtype::F32;

    static Precision choose(Dtype dtype, bool training);
    // The blocks' Linear inputs (norm outputs, qkv, attention output, MLP hidden) are bf16.
    bool bf16_operands() const { return mode == Mode::Bf16 || mode == Mode::MixedBf16; }
    // pack_weights() must run before forward(): the weights are converted once into the kernels' layout.
    bool packs_weights() const { return mode == Mode::Bf16 || mode == Mode::Int8; }
};

// The modes a plan depends on besides the configuration and the batch (Network derives them from
// NetworkOptions).
struct NetworkModes {
    bool training = false;             // every block's activations kept for backward
    bool keep_attention = false;       // every block's attention probabilities kept (training or capture)
    bool keep_attention_grad = false;  // training: every block's d objective / d attention kept
    // The residual branches (proj, fc2) write their own buffer, to be dropped, scaled and added, instead
    // of accumulating into the residual stream: with dropout, drop-path or LayerScale.
    bool branched = false;
    bool per_branch = false;  // training with LayerScale: every branch output kept for dgamma
    Regularization reg{};     // all zero unless training
    Precision precision{};
    Trainable trainable{};    // training: where backward stops
};

// Element counts, 0 where the modes need no such buffer. Shapes in the comments use B images, P
// patches, T tokens, D width, H heads, Hm the MLP width, K classes, M = B*T rows, R pooled rows per
// image (2 when distilled), F the pooled width, L blocks kept (depth in training, else 1).
// Counted in double: a hostile batch or configuration must not overflow before require_memory refuses it.
struct ActivationPlan {
    // f32 activations
    double patches = 0;      // (B*P, C*p*p) im2col of the patches
    double tokens = 0;       // (B*P, D) patch embeddings
    double emb = 0;          // (M, D) tokens + position embedding, before norm_pre (pre_norm)
    double stream = 0;       // (slots, M, D) residual stream: 2*depth+1 slots in training, else 1
    double ln = 0;           // (L, M, D) each of norm1(x_in), norm2(x_mid) (f32 operands)
    double qkv = 0;          // (L, M, 3D)
    double attention = 0;    // (A, B, H, T, T) probabilities: every block when kept, else the f32 scratch
    double ctx = 0;          // (L, M, D) attention output before proj
    double hidden_pre = 0;   // (L, M, Hm) fc1 output before the activation (training)
    double hidden = 0;       // (L, M, Hm) activated; one f32 scratch slot in mixed precision
    double final_norm = 0;   // (M, D) the final norm of every token (avg, map and token_avg pooling)
    double pooled = 0;       // (R*B, D) pooled rows before fc_norm / the token rows
    double pooled_norm = 0;  // (R*B, F) the classifier's input
    double logits = 0, logits_dist = 0;  // (B, K) head, head_dist (distilled)
    double features = 0;     // (B, D) output of a distilled model without a classifier
    double branch = 0;       // (1 or 2*depth, M, D) residual branch outputs (branched)
    // f32 statistics and gradient scratch (training)
    double norm_stats = 0;   // (L, M) each of mean1, var1, mean2, var2
    double emb_stats = 0;    // (M) each of norm_pre's mean and var (pre_norm)
    double final_stats = 0;  // (M) each of the final norm's mean and var
    double d_rows = 0;       // (M, D) each of dx, dtmp, dctx
    double d_qkv = 0;        // (M, 3D)
    double d_attention = 0;  // (B, H, T, T) one block's
    double d_attention_kept = 0;  // (depth, B, H, T, T) keep_attention_grad
    double d_branch = 0;     // (M, D) branched
    double drop_scale = 0;   // (depth, 2, B) per block, branch and image: 0 or 1/keep (branched)
    double attention_dropped = 0;  // (B, H, T, T) attention probabilities after dropout (attn_drop)
    double d_hidden = 0;     // (M, Hm) each of dh and dpre
    double d_pooled = 0;     // (R*B, D)
    double d_pooled_norm = 0;  // (R*B, F)
    double d_half = 0;       // (B, K) each head's half of dlogits
    double d_tokens = 0;     // (B*P, D)
    double d_final_norm = 0; // (M, D) as final_norm
    // bf16 operands (Precision::bf16_operands; Int8 with bf16 attention uses qkv16 and ctx16)
    double ln16 = 0;         // (2L or 1, M, D) norm1 / norm2 outputs: slot 2i and 2i+1 per block in training
    double qkv16 = 0;        // (L, M, 3D)
    double ctx16 = 0;        // (L, M, D)
    double hidden16 = 0;     // (L, M, Hm)
    double params16 = 0;     // the parameter buffer rounded to bf16 (mixed precision)
    // int8
    double quantized = 0;    // u8 elements of the quantised Linear inputs: (M, D) and (M, Hm)
    double products = 0;     // int32 (M, max(3D, Hm)) shared by the four Linear layers

    double f32_count() const;
    double bytes() const;
};

ActivationPlan plan_activations(const ViTConfig& cfg, int batch, const NetworkModes& modes);

}  // namespace vit
