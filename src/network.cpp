#include "network.hpp"

#include <algorithm>
#include <random>
#include <type_traits>

#include "vit/error.hpp"
#include "vit/memory.hpp"

namespace vit {

using layers::Epilogue;

namespace {
float* at(std::vector<float>& buf, int i, int64_t size, bool per_block) { return buf.data() + (per_block ? i * size : 0); }
const float* at(const std::vector<float>& buf, int i, int64_t size, bool per_block) {
    return buf.data() + (per_block ? i * size : 0);
}
// A parameter (or its gradient) in the flat buffer; null where the model has no such parameter.
const float* at(const Parameters& p, size_t off) { return off == size_t(-1) ? nullptr : p.data() + off; }
float* at(Parameters& p, size_t off) { return off == size_t(-1) ? nullptr : p.data() + off; }
void add_into(float* dst, const float* src, int64_t n) {
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}
}  // namespace

Network::Network(const ViTConfig& cfg, int batch, const NetworkOptions& opts)
    : c_((cfg.validate(), cfg)), off_(param_layout(cfg).slots), training_(opts.training),
      per_block_(opts.training || opts.capture_attention), keep_att_grad_(opts.training && opts.keep_attention_grad),
      reg_(opts.training ? (opts.reg.validate(), opts.reg) : Regularization{}),
      branched_(reg_.drop_path > 0 || reg_.dropout > 0 || cfg.layer_scale()),
      per_branch_(opts.training && cfg.layer_scale()), bf16_(!opts.training && opts.dtype == Dtype::BF16),
      mixed_(opts.training && opts.dtype == Dtype::BF16), int8_(opts.dtype == Dtype::Int8),
      int8_attention_(int8_ ? cpu_support().int8_attention : Dtype::F32), B_(batch),
      P_(cfg.num_patches()), T_(cfg.num_tokens()), D_(cfg.embed_dim), H_(cfg.num_heads), Hm_(cfg.mlp_hidden()),
      K_(cfg.num_classes), O_(cfg.num_outputs()),
      M_(int64_t(batch) * cfg.num_tokens()), R_(cfg.distilled ? 2 : 1),
      patch_len_(int64_t(cfg.in_chans) * cfg.patch_size * cfg.patch_size), prefix_(cfg.num_prefix()),
      F_(cfg.num_features()), first_image_(opts.slice.total > 0 ? opts.slice.first : 0),
      global_batch_(opts.slice.total > 0 ? opts.slice.total : batch) {
    if (batch <= 0) throw ConfigError("batch size must be positive, got " + std::to_string(batch));
    if (opts.keep_attention_grad && opts.dtype != Dtype::F32)
        throw ConfigError(std::string("attention gradients are computed in f32 only, not ") + to_string(opts.dtype));
    if (opts.slice.total > 0 && (opts.slice.first < 0 || opts.slice.count != batch ||
                                 int64_t(opts.slice.first) + batch > opts.slice.total))
        throw ConfigError("a network for a batch of " + std::to_string(batch) + " cannot compute images [" +
                          std::to_string(opts.slice.first) + ", " + std::to_string(opts.slice.first + opts.slice.count) +
                          ") of a global batch of " + std::to_string(opts.slice.total));
    if (opts.training && opts.dtype == Dtype::Int8)
        throw ConfigError("training runs in f32 or bf16, not int8");
    require_dtype(opts.dtype);  // before any allocation or oneDNN plan
    require_memory(estimate_bytes(cfg, batch, opts),
                   std::string("a network for a batch of ") + std::to_string(batch) + " (" +
                       (opts.training ? "training" : opts.capture_attention ? "inference, attention kept" : "inference") +
                       ", " + std::to_string(cfg.num_tokens()) + " tokens of width " + std::to_string(cfg.embed_dim) +
                       ", depth " + std::to_string(cfg.depth) + ")");
    const bool training = opts.training;
    const int64_t L = training ? cfg.depth : 1, A = per_block_ ? cfg.depth : 1, BHTT = B_ * H_ * T_ * T_;
    patches_.resize(B_ * P_ * patch_len_);
    tokens_.resize(B_ * P_ * D_);
    if (cfg.pre_norm) emb_.resize(M_ * D_);
    xs_.resize((training ? 2 * cfg.depth + 1 : 1) * M_ * D_);
    // bf16 attention (bf16, and int8 where bf16 runs) without maps: the attention's own scratch.
    const bool attention16 = bf16_ || mixed_ || (int8_ && int8_attention_ == Dtype::BF16);
    if (!attention16 || per_block_) att_.resize(A * BHTT);
    if (bf16_) {
        ln16_.resize(M_ * D_);
        qkv16_.resize(M_ * 3 * D_);
        ctx16_.resize(M_ * D_);
        h16_.resize(M_ * Hm_);
    } else if (mixed_) {
        ln16_.resize(2 * L * M_ * D_);
        qkv16_.resize(L * M_ * 3 * D_);
        ctx16_.resize(L * M_ * D_);
        h16_.resize(L * M_ * Hm_);
        hact_.resize(M_ * Hm_);
        params16_.resize(param_layout(cfg).size);
        params_to_bf16_ = layers::Convert(static_cast<int64_t>(params16_.size()), layers::dt::f32, layers::dt::bf16);
        h_to_bf16_ = layers::Convert(M_ * Hm_, layers::dt::f32, layers::dt::bf16);
    } else if (int8_) {
        if (int8_attention_ == Dtype::BF16) {
            qkv16_.resize(M_ * 3 * D_);
            ctx16_.resize(M_ * D_);
        } else {
            qkv_.resize(M_ * 3 * D_);
            ctx_.resize(M_ * D_);
        }
        xq_ = layers::QuantizedRows(M_, D_);
        hq_ = layers::QuantizedRows(M_, Hm_);
        acc_.resize(size_t(M_ * std::max(3 * D_, Hm_)));
    } else {
        ln1_.resize(L * M_ * D_);
        ln2_.resize(L * M_ * D_);
        qkv_.resize(L * M_ * 3 * D_);
        ctx_.resize(L * M_ * D_);
        hact_.resize(L * M_ * Hm_);
    }
    pooled_.resize(R_ * B_ * D_);
    pooled_ln_.resize(R_ * B_ * F_);
    logits_.resize(B_ * K_);
    if (cfg.distilled) logits_dist_.resize(B_ * K_);
    if (K_ == 0 && cfg.distilled) features_.resize(B_ * D_);
    const bool norm_all = !cfg.fc_norm && cfg.global_pool != GlobalPool::Token;  // the final norm on every token
    if (norm_all) fin_.resize(M_ * D_);
    if (branched_) branch_.resize((per_branch_ ? 2 * cfg.depth : 1) * M_ * D_);
    if (training) {
        for (auto* v : {&mean1_, &var1_, &mean2_, &var2_}) v->resize(L * M_);
        if (cfg.pre_norm) {
            emb_mean_.resize(M_);
            emb_var_.resize(M_);
        }
        fin_mean_.resize(M_);
        fin_var_.resize(M_);
        hpre_.resize(L * M_ * Hm_);
        for (auto* v : {&dx_, &dtmp_, &dctx_}) v->resize(M_ * D_);
        dqkv_.resize(M_ * 3 * D_);
        datt_.resize(BHTT);
        if (keep_att_grad_) datt_all_.resize(cfg.depth * BHTT);
        if (branched_) {
            dbranch_.resize(M_ * D_);
            drop_scale_.assign(size_t(cfg.depth) * 2 * B_, 1.0f);
        }
        if (reg_.attn_drop > 0) att_drop_.resize(BHTT);
        dh_.resize(M_ * Hm_);
        dpre_.resize(M_ * Hm_);
        dpooled_.resize(R_ * B_ * D_);
        dpooled_ln_.resize(R_ * B_ * F_);
        dhalf_.resize(B_ * K_);
        dtokens_.resize(B_ * P_ * D_);
        dfin_.resize(fin_.size());
    }

    // A convolution whose stride equals its kernel sees every pixel once: it is the matmul of the
    // (B*P, C*p*p) patch matrix with the (D, C*p*p) flattened kernel, forward and backward.
    patch_ = layers::Linear(B_ * P_, patch_len_, D_, cfg.patch_bias(), Epilogue::None, training);
    // bf16 inference: qkv and fc1 write bf16 (their outputs only feed the next matmuls); proj and fc2
    // write the f32 residual stream. Mixed-precision training: the same, except fc1, whose output the
    // f32 GELU and its backward read.
    const layers::dt low = bf16_ || mixed_ ? layers::dt::bf16 : layers::dt::f32;
    const layers::LinearTypes to_low{low, low}, to_f32{low, layers::dt::f32};
    // The attention products take bf16 operands in bf16 inference, mixed-precision training and int8
    // (there the qkv product writes bf16 and the attention output is quantised from bf16; on a CPU
    // without bf16 products int8 keeps the attention in f32).
    const layers::dt attention_type = attention16 ? layers::dt::bf16 : layers::dt::f32;
    // The residual adds are fused into proj and fc2 (x += ...), unless the branch is dropped or scaled.
    const Epilogue residual = branched_ ? Epilogue::None : Epilogue::Accumulate;
    if (int8_) {  // fc1 applies the activation and quantises the hidden layer for fc2
        qkv8_ = layers::Int8Linear(M_, D_, 3 * D_, Epilogue::None, cfg.act, attention_type);
        proj8_ = layers::Int8Linear(M_, D_, D_, residual);
        fc1_8_ = layers::Int8Linear(M_, D_, Hm_, Epilogue::Activate, cfg.act);
        fc2_8_ = layers::Int8Linear(M_, Hm_, D_, residual);
        ln_to_u8_ = layers::LayerNorm(M_, D_, cfg.ln_eps, false, layers::dt::u8);
    } else {
        qkv_l_ = layers::Linear(M_, D_, 3 * D_, cfg.qkv_bias, Epilogue::None, training, cfg.act, to_low);
        proj_ = layers::Linear(M_, D_, D_, true, residual, training, cfg.act, to_f32);  // x += proj(ctx)
        fc1_ = layers::Linear(M_, D_, Hm_, true, training ? Epilogue::None : Epilogue::Activate, training, cfg.act,
                              training ? to_f32 : to_low);
        fc2_ = layers::Linear(M_, Hm_, D_, true, residual, training, cfg.act, to_f32);  // x += fc2(h)
    }
    if (K_ > 0) {
        head_ = layers::Linear(B_, F_, K_, true, Epilogue::None, training);
        if (cfg.distilled) head_dist_ = layers::Linear(B_, D_, K_, true, Epilogue::None, training);
    }
    attn_ = layers::Attention(B_, T_, D_, H_, training, reg_.attn_drop, attention_type, first_image_);
    if (cfg.global_pool == GlobalPool::Map)
        attn_pool_ = layers::AttentionPool(B_, T_, prefix_, D_, H_, Hm_, cfg.ln_eps, cfg.act, training);
    drop_ = layers::Dropout(reg_.dropout);
    head_drop_ = layers::Dropout(reg_.head_drop);
    if (training) gelu_ = layers::Gelu(M_ * Hm_, cfg.act);
    ln_tokens_ = layers::LayerNorm(M_, D_, cfg.ln_eps, training);
    if (bf16_ || mixed_) ln_to_bf16_ = layers::LayerNorm(M_, D_, cfg.ln_eps, training, layers::dt::bf16);
    ln_rows_ = layers::LayerNorm(R_ * B_, D_, cfg.ln_eps, training);
}

double Network::estimate_bytes(const ViTConfig& cfg, int batch, const NetworkOptions& opts) {
    // In floats, following the constructor's buffers that grow with the batch: M = B*T token rows of
    // width D or Hm, and (B, H, T, T) attention maps; those per image or per parameter are negligible.
    // Computed in double: a hostile batch or configuration must not overflow the estimate itself.
    // Mixed-precision training keeps norm1/norm2, qkv, ctx and the MLP hidden activations in bf16 (half
    // of these f32 figures) plus one f32 hidden scratch; bf16 and int8 inference allocate less than the
    // f32 figure too (int8, per row: qkv and ctx in bf16, the int32 products max(3D, Hm) and u8 copies of
    // D and Hm, against f32's 6D + Hm). The f32 estimate bounds them all.
    const double B = batch, T = static_cast<double>(cfg.num_tokens()), D = cfg.embed_dim,
                 Hm = static_cast<double>(cfg.mlp_hidden()), depth = cfg.depth;
    const double M = B * T, maps = B * cfg.num_heads * T * T;
    const double image = double(cfg.in_chans) * cfg.img_h * cfg.img_w;
    const bool training = opts.training, layer_scale = cfg.layer_scale();
    const double L = training ? depth : 1;  // blocks whose activations are kept
    double floats = 2 * B * image                                 // the caller's input, its im2col patches
                    + 3 * M * D                                   // tokens, embedding, final norm
                    + (training ? 2 * depth + 1 : 1) * M * D      // residual stream slots
                    + L * M * (6 * D + Hm)                        // norm1, norm2, qkv (3D), attention out; fc1
                    + (training || opts.capture_attention ? depth : 1) * maps   // attention probabilities
                    + (training && layer_scale ? 2 * depth : 1) * M * D;        // residual branch outputs
    if (training)
        floats += L * M * Hm                                      // fc1 before the activation
                  + M * (6 * D + 2 * Hm)                          // gradient scratch (dx, dqkv, dctx, dh, ...)
                  + (opts.keep_attention_grad ? depth + 2 : 2) * maps;  // attention gradients, dropped maps
    return floats * sizeof(float);
}

double Network::attention_maps_bytes(const ViTConfig& cfg, int64_t images) {
    const double T = cfg.num_tokens();
    return double(images) * cfg.depth * cfg.num_heads * T * T * sizeof(float);
}

// (n, C, H, W) images -> (B*P, C*p*p) rows, each one patch in (channel, y, x) order: the order of the
// flattened convolution kernel.
void Network::im2col(const float* img, int n) {
    const int ps = c_.patch_size, gw = c_.grid_w();
    const int64_t HW = int64_t(c_.img_h) * c_.img_w;
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < B_; ++b)
        for (int64_t pi = 0; pi < P_; ++pi) {
            float* dst = patches_.data() + (b * P_ + pi) * patch_len_;
            if (b >= n) {
                std::fill(dst, dst + patch_len_, 0.0f);
                continue;
            }
            const int64_t y0 = (pi / gw) * ps, x0 = (pi % gw) * ps;
            for (int ci = 0; ci < c_.in_chans; ++ci)
                for (int ky = 0; ky < ps; ++ky) {
                    const float* src = img + (b * c_.in_chans + ci) * HW + (y0 + ky) * c_.img_w + x0;
                    std::copy(src, src + ps, dst + (int64_t(ci) * ps + ky) * ps);
                }
        }
}

// Prefix tokens (class, distillation, registers) and the patch tokens, plus the position embedding:
// on every token, or on the patches only (no_embed_class); then dropout and, with pre_norm, norm_pre.
void Network::embed_forward(const Parameters& p) {
    float* x = c_.pre_norm ? emb_.data() : stream(0);
    const float* pos = at(p, off_.pos);
    const int64_t pos_first = c_.no_embed_class ? prefix_ : 0;  // the first token with a position row
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < B_; ++b)
        for (int64_t t = 0; t < T_; ++t) {
            const float* src =
                t >= prefix_ ? tokens_.data() + (b * P_ + t - prefix_) * D_ : at(p, prefix_offset(t));
            float* dst = x + (b * T_ + t) * D_;
            if (t < pos_first) {
                std::copy_n(src, D_, dst);
            } else {
                const float* pe = pos + (t - pos_first) * D_;
                for (int64_t j = 0; j < D_; ++j) dst[j] = src[j] + pe[j];
            }
        }
    drop_.apply(x, x, M_ * D_, key(Site::Pos, 0), mask_first(T_ * D_));
    if (c_.pre_norm)
        ln_tokens_.forward(x, at(p, off_.norm_pre_w), at(p, off_.norm_pre_b), stream(0),
                           training_ ? emb_mean_.data() : nullptr, training_ ? emb_var_.data() : nullptr);
}

void Network::pack_weights(const Parameters& p) {
    if (int8_) {
        int8_weights_.clear();
        for (const BlockParams& o : off_.blocks)
            int8_weights_.push_back({qkv8_.pack(at(p, o.qkv_w), at(p, o.qkv_b)),
                                     proj8_.pack(at(p, o.proj_w), at(p, o.proj_b)),
                                     fc1_8_.pack(at(p, o.fc1_w), at(p, o.fc1_b)),
                                     fc2_8_.pack(at(p, o.fc2_w), at(p, o.fc2_b))});
        packed_from_ = &p;
        return;
    }
    if (!bf16_) return;
    packed_.clear();
    for (const BlockParams& o : off_.blocks)
        packed_.push_back({qkv_l_.pack(at(p, o.qkv_w)), proj_.pack(at(p, o.proj_w)), fc1_.pack(at(p, o.fc1_w)),
                           fc2_.pack(at(p, o.fc2_w))});
    packed_from_ = &p;
}

const void* Network::weight(const Parameters& p, size_t offset, int block, dnnl::memory PackedBlock::*packed) const {
    if (mixed_) return params16_.data() + offset;
    return bf16_ ? (packed_[size_t(block)].*packed).get_data_handle() : at(p, offset);
}

const float* Network::forward(const Parameters& p, const float* img, int n) {
    if (n <= 0 || n > B_)
        throw ConfigError("forward of " + std::to_string(n) + " images on a network planned for batch " +
                          std::to_string(B_));
    if ((bf16_ || int8_) && packed_from_ != &p)
        throw ConfigError(std::string("a ") + (int8_ ? "int8" : "bf16") +
                          " network runs the parameters its weights were packed from (call pack_weights)");
    // Mixed precision: the bf16 copy of the current (just updated) f32 weights, once per step.
    if (mixed_) params_to_bf16_.run(p.data(), params16_.data());
    im2col(img, n);
    patch_.forward(patches_.data(), at(p, off_.patch_w), at(p, off_.patch_b), tokens_.data());
    embed_forward(p);

    const int64_t MD = M_ * D_;
    for (int i = 0; i < c_.depth; ++i) {
        const BlockParams& o = off_.blocks[size_t(i)];
        float *x_in = stream(2 * i), *x_mid = stream(2 * i + 1), *x_out = stream(2 * i + 2);
        // Matmul operands: f32 (per block in training) or the bf16 buffers (per block in mixed-precision
        // training, where GELU writes an f32 scratch hact that is then rounded into fc2's input).
        const bool low = bf16_ || mixed_;
        void* ln1 = low ? static_cast<void*>(norm16(i, 0)) : at(ln1_, i, MD, training_);
        void* ln2 = low ? static_cast<void*>(norm16(i, 1)) : at(ln2_, i, MD, training_);
        layers::LayerNorm& block_norm = low ? ln_to_bf16_ : ln_tokens_;
        void* qkv = low ? static_cast<void*>(qkv16(i)) : at(qkv_, i, 3 * MD, training_);
        void* ctx = low ? static_cast<void*>(ctx16(i)) : at(ctx_, i, MD, training_);
        void* hact = bf16_ ? static_cast<void*>(h16_.data()) : at(hact_, i, M_ * Hm_, training_ && !mixed_);
        void* hact_in = mixed_ ? static_cast<void*>(hidden16(i)) : hact;  // fc2's input
        float* att = att_.empty() ? nullptr : at(att_, i, B_ * H_ * T_ * T_, per_block_);
        float* m1 = training_ ? at(mean1_, i, M_, true) : nullptr;
        float* v1 = training_ ? at(var1_, i, M_, true) : nullptr;
        float* m2 = training_ ? at(mean2_, i, M_, true) : nullptr;
        float* v2 = training_ ? at(var2_, i, M_, true) : nullptr;
        if (int8_) {
            int8_block(p, i, x_in, x_mid, x_out, att);
            continue;
        }

        block_norm.forward(x_in, at(p, o.norm1_w), at(p, o.norm1_b), ln1, m1, v1);
        qkv_l_.forward(ln1, weight(p, o.qkv_w, i, &PackedBlock::qkv), at(p, o.qkv_b), qkv);
        attn_.forward(qkv, att, ctx, key(Site::Attention, i), att_drop_.data());
        if (branched_) {
            float* br = branch(2 * i);
            proj_.forward(ctx, weight(p, o.proj_w, i, &PackedBlock::proj), at(p, o.proj_b), br);
            drop_.apply(br, br, MD, key(Site::Proj, i), mask_first(T_ * D_));
            add_branch(x_in, drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i) * B_, at(p, o.ls1), br, x_mid);
        } else {
            if (x_mid != x_in) std::copy(x_in, x_in + MD, x_mid);
            proj_.forward(ctx, weight(p, o.proj_w, i, &PackedBlock::proj), at(p, o.proj_b), x_mid);
        }
        block_norm.forward(x_mid, at(p, o.norm2_w), at(p, o.norm2_b), ln2, m2, v2);
        if (training_) {
            float* hpre = at(hpre_, i, M_ * Hm_, true);
            float* h = static_cast<float*>(hact);
            fc1_.forward(ln2, weight(p, o.fc1_w, i, &PackedBlock::fc1), at(p, o.fc1_b), hpre);
            gelu_.forward(hpre, h);
            drop_.apply(h, h, M_ * Hm_, key(Site::Hidden, i), mask_first(T_ * Hm_));
            if (mixed_) h_to_bf16_.run(h, hact_in);
        } else {
            // the activation fused
            fc1_.forward(ln2, weight(p, o.fc1_w, i, &PackedBlock::fc1), at(p, o.fc1_b), hact);
        }
        if (branched_) {
            float* br = branch(2 * i + 1);
            fc2_.forward(hact_in, weight(p, o.fc2_w, i, &PackedBlock::fc2), at(p, o.fc2_b), br);
            drop_.apply(br, br, MD, key(Site::Mlp, i), mask_first(T_ * D_));
            add_branch(x_mid, drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i + 1) * B_, at(p, o.ls2), br,
                       x_out);
        } else {
            if (x_out != x_mid) std::copy(x_mid, x_mid + MD, x_out);
            fc2_.forward(hact_in, weight(p, o.fc2_w, i, &PackedBlock::fc2), at(p, o.fc2_b), x_out);
        }
    }
    pool_forward(p);
    head_dropout(pooled_ln_.data());
    if (K_ == 0) {
        if (R_ == 1) return pooled_ln_.data();
        // Distilled without heads: timm returns the mean of the class and distillation features.
        for (int64_t i = 0; i < B_ * D_; ++i) features_[size_t(i)] = 0.5f * (pooled_ln_[size_t(i)] + pooled_ln_[size_t(B_ * D_ + i)]);
        return features_.data();
    }
    head_.forward(pooled_ln_.data(), at(p, off_.head_w), at(p, off_.head_b), logits_.data());
    if (R_ == 2) {  // DeiT: the class and distillation heads, averaged (as timm outside distilled training)
        head_dist_.forward(pooled_ln_.data() + B_ * D_, at(p, off_.head_dist_w), at(p, off_.head_dist_b),
                           logits_dist_.data());
        for (int64_t i = 0; i < B_ * K_; ++i) logits_[size_t(i)] = 0.5f * (logits_[size_t(i)] + logits_dist_[size_t(i)]);
    }
    return logits_.data();
}

// As the f32 block, with the four Linear layers in int8: their inputs quantised per token (norm1 and
// norm2 by the LayerNorm, the attention output here, the hidden layer by fc1), the attention itself
// in bf16 as in a bf16 network (qkv and its output bf16, softmax in f32) where this CPU has bf16
// products, else in f32 (cpu_support.hpp).
void Network::int8_block(const Parameters& p, int i, float* x_in, float* x_mid, float* x_out, float* att) {
    // Inference only: one residual slot (x_in, x_mid and x_out are the same rows) and no dropout; with
    // LayerScale the branches go through branch_ and add_branch.
    const BlockParams& o = off_.blocks[size_t(i)];
    const Int8Block& w = int8_weights_[size_t(i)];
    ln_to_u8_.forward(x_in, at(p, o.norm1_w), at(p, o.norm1_b), xq_);
    if (int8_attention_ == Dtype::BF16) {
        qkv8_.forward(xq_, w.qkv, acc_.data(), qkv16_.data());
        attn_.forward(qkv16_.data(), att, ctx16_.data());
        layers::quantize_rows(ctx16_.data(), M_, D_, xq_);
    } else {
        qkv8_.forward(xq_, w.qkv, acc_.data(), qkv_.data());
        attn_.forward(qkv_.data(), att, ctx_.data());
        layers::quantize_rows(ctx_.data(), M_, D_, xq_);
    }
    if (branched_) {
        proj8_.forward(xq_, w.proj, acc_.data(), branch(0));
        add_branch(x_in, nullptr, at(p, o.ls1), branch(0), x_mid);
    } else {
        proj8_.forward(xq_, w.proj, acc_.data(), x_mid);
    }
    ln_to_u8_.forward(x_mid, at(p, o.norm2_w), at(p, o.norm2_b), xq_);
    fc1_8_.forward(xq_, w.fc1, acc_.data(), hq_);
    if (branched_) {
        fc2_8_.forward(hq_, w.fc2, acc_.data(), branch(0));
        add_branch(x_mid, nullptr, at(p, o.ls2), branch(0), x_out);
    } else {
        fc2_8_.forward(hq_, w.fc2, acc_.data(), x_out);
    }
}

// The attention pool's tensors in a flat buffer: the parameters (const) or their gradients.
template <class Buffer>
auto attn_pool_tensors(Buffer& p, const AttnPoolParams& a) {
    using F = std::remove_pointer_t<decltype(at(p, a.latent))>;
    return layers::AttentionPool::Tensors<F>{at(p, a.latent), at(p, a.q_w),    at(p, a.q_b),    at(p, a.kv_w),
                                             at(p, a.kv_b),   at(p, a.proj_w), at(p, a.proj_b), at(p, a.norm_w),
                                             at(p, a.norm_b), at(p, a.fc1_w),  at(p, a.fc1_b),  at(p, a.fc2_w),
                                             at(p, a.fc2_b)};
}

size_t Network::prefix_offset(int64_t t) const {
    const int64_t n_cls = c_.class_token ? 1 : 0, n_dist = c_.distilled ? 1 : 0;
    if (t < n_cls) return off_.cls;
    if (t < n_cls + n_dist) return off_.dist;
    return off_.reg + size_t(t - n_cls - n_dist) * size_t(D_);
}

// Pooling, as timm: with token pooling only the class token's row (and the distillation token's) goes
// through the final norm; avg pooling averages the patch tokens (prefix tokens excluded) and map pooling
// attends over them, each normalised before (norm) or after (fc_norm). TokenAvg (Hugging Face's DINOv2
// classifier) normalises every token, then writes the class token's row and the patch mean side by side.
void Network::pool_forward(const Parameters& p) {
    const float *g = at(p, off_.norm_w), *bt = at(p, off_.norm_b);
    const float* x = stream(training_ ? 2 * c_.depth : 0);
    float* mean = training_ ? fin_mean_.data() : nullptr;
    float* var = training_ ? fin_var_.data() : nullptr;
    if (c_.global_pool == GlobalPool::Token) {
        // pooled_ rows (r, b): token r of image b.
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t b = 0; b < B_; ++b) std::copy_n(x + (b * T_ + r) * D_, D_, pooled_.data() + (r * B_ + b) * D_);
        ln_rows_.forward(pooled_.data(), g, bt, pooled_ln_.data(), mean, var);
        return;
    }
    const bool norm_first = !c_.fc_norm;
    if (norm_first) ln_tokens_.forward(x, g, bt, fin_.data(), mean, var);
    const float* src = norm_first ? fin_.data() : x;
    float* dst = norm_first ? pooled_ln_.data() : pooled_.data();
    if (c_.global_pool == GlobalPool::Map) {
        attn_pool_.forward(attn_pool_tensors(p, off_.pool), src, dst);
    } else {
        // Row b of dst is F wide: [class token ;] mean of the patch tokens, the mean in the last D.
        const bool with_cls = c_.global_pool == GlobalPool::TokenAvg;
        for (int64_t b = 0; b < B_; ++b) {
            float* out = dst + b * F_;
            if (with_cls) std::copy_n(src + b * T_ * D_, D_, out);
            float* avg = out + F_ - D_;
            std::fill(avg, avg + D_, 0.0f);
            for (int64_t t = prefix_; t < T_; ++t)
                for (int64_t j = 0; j < D_; ++j) avg[j] += src[(b * T_ + t) * D_ + j];
            for (int64_t j = 0; j < D_; ++j) avg[j] /= static_cast<float>(P_);
        }
    }
    if (!norm_first) ln_rows_.forward(pooled_.data(), g, bt, pooled_ln_.data(), mean, var);
}

// Mirror of pool_forward: dpooled_ln (R*B, F) -> dx (B*T, D), written.
void Network::norm_backward(BackwardRule rule, layers::LayerNorm& ln, const float* x, const float* mean,
                            const float* var, const float* gamma, const float* dy, float* dx, float* dgamma,
                            float* dbeta) {
    if (rule == BackwardRule::AttnLrp)
        ln.backward_fixed_scale(var, gamma, dy, dx);
    else
        ln.backward(x, mean, var, gamma, dy, dx, dgamma, dbeta);
}

void Network::pool_backward(const Parameters& p, Parameters& grads, float* dx, BackwardRule rule) {
    const float* g = at(p, off_.norm_w);
    float *dg = at(grads, off_.norm_w), *db = at(grads, off_.norm_b);
    const float* x = stream(2 * c_.depth);
    std::fill(dx, dx + M_ * D_, 0.0f);
    if (c_.global_pool == GlobalPool::Token) {
        norm_backward(rule, ln_rows_, pooled_.data(), fin_mean_.data(), fin_var_.data(), g, dpooled_ln_.data(),
                      dpooled_.data(), dg, db);
        for (int64_t r = 0; r < R_; ++r)
            for (int64_t b = 0; b < B_; ++b) std::copy_n(dpooled_.data() + (r * B_ + b) * D_, D_, dx + (b * T_ + r) * D_);
        return;
    }
    // d pooled features: after fc_norm's backward, or straight from the head.
    const float* dpool = dpooled_ln_.data();
    if (c_.fc_norm) {
        norm_backward(rule, ln_rows_, pooled_.data(), fin_mean_.data(), fin_var_.data(), g, dpooled_ln_.data(),
                      dpooled_.data(), dg, db);
        dpool = dpooled_.data();
    }
    // d pool input (B*T, D): into dx directly with fc_norm, else into dfin_ for the final norm's backward.
    float* dsrc = c_.fc_norm ? dx : dfin_.data();
    if (c_.global_pool == GlobalPool::Map) {
        attn_pool_.backward(attn_pool_tensors(p, off_.pool), c_.fc_norm ? x : fin_.data(), dpool, dsrc,
                            attn_pool_tensors(grads, off_.pool), rule);
    } else {
        // The mean hands each patch token 1/P of its gradient; TokenAvg's class half goes to the class
        // token's row unchanged; the other prefix tokens (registers) get none.
        const float inv_p = 1.0f / static_cast<float>(P_);
        std::fill(dsrc, dsrc + M_ * D_, 0.0f);
        for (int64_t b = 0; b < B_; ++b) {
            const float* drow = dpool + b * F_;
            if (c_.global_pool == GlobalPool::TokenAvg) std::copy_n(drow, D_, dsrc + b * T_ * D_);
            const float* davg = drow + F_ - D_;
            for (int64_t t = prefix_; t < T_; ++t)
                for (int64_t j = 0; j < D_; ++j) dsrc[(b * T_ + t) * D_ + j] = davg[j] * inv_p;
        }
    }
    if (!c_.fc_norm)
        norm_backward(rule, ln_tokens_, x, fin_mean_.data(), fin_var_.data(), g, dfin_.data(), dx, dg, db);
}

void Network::backward(const Parameters& p, const float* dlogits, Parameters& grads, BackwardRule rule) {
    if (!training_) throw ConfigError("backward needs a network planned for training");
    if (rule == BackwardRule::AttnLrp && mixed_)
        throw ConfigError("AttnLRP's backward runs in f32 only, not in mixed-precision bf16");
    if (K_ == 0) throw ConfigError("backward needs a classifier head (the model has num_classes 0)");
    if (R_ == 2) {  // logits = (head + head_dist) / 2: each head sees half the gradient
        for (int64_t i = 0; i < B_ * K_; ++i) dhalf_[size_t(i)] = 0.5f * dlogits[i];
        head_.backward(pooled_ln_.data(), at(p, off_.head_w), dhalf_.data(), dpooled_ln_.data(), at(grads, off_.head_w),
                       at(grads, off_.head_b));
        head_dist_.backward(pooled_ln_.data() + B_ * D_, at(p, off_.head_dist_w), dhalf_.data(),
                            dpooled_ln_.data() + B_ * D_, at(grads, off_.head_dist_w), at(grads, off_.head_dist_b));
    } else {
        head_.backward(pooled_ln_.data(), at(p, off_.head_w), dlogits, dpooled_ln_.data(), at(grads, off_.head_w),
                       at(grads, off_.head_b));
    }
    head_dropout(dpooled_ln_.data());
    float* dx = dx_.data();  // gradient of the residual stream, walking back through the blocks
    pool_backward(p, grads, dx, rule);

    const int64_t MD = M_ * D_;
    for (int i = c_.depth - 1; i >= 0; --i) {
        const BlockParams& o = off_.blocks[size_t(i)];
        const float *x_in = stream(2 * i), *x_mid = stream(2 * i + 1);
        const float* scale_attn = drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i) * B_;
        const float* scale_mlp = drop_scale_.empty() ? nullptr : drop_scale_.data() + (2 * i + 1) * B_;
        // MLP: x_out = x_mid + ls2 ⊙ fc2(act(fc1(norm2(x_mid))))
        // With dropout, drop-path or LayerScale the branch sees the residual gradient through them.
        const float* d_mlp = branched_ ? branch_grad(dx, scale_mlp, at(p, o.ls2), branch(2 * i + 1), at(grads, o.ls2),
                                                     key(Site::Mlp, i))
                                       : dx;
        // The Linears' saved inputs and weights: f32, or bf16 in mixed precision.
        const void* h_in = mixed_ ? static_cast<const void*>(hidden16(i)) : at(hact_, i, M_ * Hm_, true);
        const void* ln2_in = mixed_ ? static_cast<const void*>(norm16(i, 1)) : at(ln2_, i, MD, true);
        const void* ctx_in = mixed_ ? static_cast<const void*>(ctx16(i)) : at(ctx_, i, MD, true);
        const void* ln1_in = mixed_ ? static_cast<const void*>(norm16(i, 0)) : at(ln1_, i, MD, true);
        fc2_.backward(h_in, weight(p, o.fc2_w, i, &PackedBlock::fc2), d_mlp, dh_.data(), at(grads, o.fc2_w),
                      at(grads, o.fc2_b));
        drop_.apply(dh_.data(), dh_.data(), M_ * Hm_, key(Site::Hidden, i), mask_first(T_ * Hm_));
        if (rule == BackwardRule::AttnLrp)
            layers::Gelu::identity_rule(at(hpre_, i, M_ * Hm_, true), at(hact_, i, M_ * Hm_, true), dh_.data(),
                                        dpre_.data(), M_ * Hm_);
        else
            gelu_.backward(at(hpre_, i, M_ * Hm_, true), dh_.data(), dpre_.data());
        fc1_.backward(ln2_in, weight(p, o.fc1_w, i, &PackedBlock::fc1), dpre_.data(), dctx_.data(),
                      at(grads, o.fc1_w), at(grads, o.fc1_b));
        norm_backward(rule, ln_tokens_, x_mid, at(mean2_, i, M_, true), at(var2_, i, M_, true), at(p, o.norm2_w),
                      dctx_.data(), dtmp_.data(), at(grads, o.norm2_w), at(grads, o.norm2_b));
        add_into(dx, dtmp_.data(), MD);  // now d x_mid
        // Attention: x_mid = x_in + ls1 ⊙ proj(attn(qkv(norm1(x_in))))
        const void* qkv = mixed_ ? static_cast<const void*>(qkv16(i)) : at(qkv_, i, 3 * MD, true);
        const float* d_attn = branched_ ? branch_grad(dx, scale_attn, at(p, o.ls1), branch(2 * i), at(grads, o.ls1),
                                                      key(Site::Proj, i))
                                        : dx;
        proj_.backward(ctx_in, weight(p, o.proj_w, i, &PackedBlock::proj), d_attn, dctx_.data(), at(grads, o.proj_w),
                       at(grads, o.proj_b));
        const int64_t BHTT = B_ * H_ * T_ * T_;
        float* datt = keep_att_grad_ ? at(datt_all_, i, BHTT, true) : datt_.data();
        attn_.backward(qkv, at(att_, i, BHTT, true), dctx_.data(), datt, datt_.data(), dqkv_.data(),
                       key(Site::Attention, i), att_drop_.data());
        if (rule == BackwardRule::AttnLrp) {  // the uniform rule: a quarter of dQ and dK, half of dV
#pragma omp parallel for
            for (int64_t r = 0; r < M_; ++r) {
                float* row = dqkv_.data() + r * 3 * D_;
                for (int64_t j = 0; j < 3 * D_; ++j) row[j] *= j < 2 * D_ ? 0.25f : 0.5f;
            }
        }
        qkv_l_.backward(ln1_in, weight(p, o.qkv_w, i, &PackedBlock::qkv), dqkv_.data(), dctx_.data(),
                        at(grads, o.qkv_w), at(grads, o.qkv_b));
        norm_backward(rule, ln_tokens_, x_in, at(mean1_, i, M_, true), at(var1_, i, M_, true), at(p, o.norm1_w),
                      dctx_.data(), dtmp_.data(), at(grads, o.norm1_w), at(grads, o.norm1_b));
        add_into(dx, dtmp_.data(), MD);  // now d x_in
    }
    if (c_.pre_norm) {  // x_in of block 0 = norm_pre(emb)
        norm_backward(rule, ln_tokens_, emb_.data(), emb_mean_.data(), emb_var_.data(), at(p, off_.norm_pre_w), dx,
                      dtmp_.data(), at(grads, off_.norm_pre_w), at(grads, off_.norm_pre_b));
        std::copy_n(dtmp_.data(), MD, dx);
    }
    embed_backward(grads, dx);
    patch_.backward(patches_.data(), at(p, off_.patch_w), dtokens_.data(), nullptr, at(grads, off_.patch_w),
                    at(grads, off_.patch_b));
}

// Mirror of embed_forward (before norm_pre): dx (B*T, D) -> the prefix tokens' and the position
// embedding's gradients (accumulated) and dtokens_ (B*P, D), the patch embedding's output gradient.
void Network::embed_backward(Parameters& grads, float* dx) {
    drop_.apply(dx, dx, M_ * D_, key(Site::Pos, 0), mask_first(T_ * D_));
    float* dpos = at(grads, off_.pos);
    const int64_t pos_first = c_.no_embed_class ? prefix_ : 0;
    for (int64_t b = 0; b < B_; ++b)
        for (int64_t t = 0; t < T_; ++t) {
            const float* src = dx + (b * T_ + t) * D_;
            if (t >= pos_first) {
                float* dpe = dpos + (t - pos_first) * D_;
                for (int64_t j = 0; j < D_; ++j) dpe[j] += src[j];
            }
            if (t >= prefix_) {
                std::copy_n(src, D_, dtokens_.data() + (b * P_ + t - prefix_) * D_);
                continue;
            }
            float* dtok = at(grads, prefix_offset(t));
            for (int64_t j = 0; j < D_; ++j) dtok[j] += src[j];
        }
}

// The draws for the global batch, in order: per block with a non-zero rate, one per image for the
// attention branch, then one per image for the MLP branch; this network keeps its images' draws.
void Network::set_noise_seed(uint64_t seed) {
    noise_seed_ = seed;
    if (reg_.drop_path <= 0) return;
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (int i = 0; i < c_.depth; ++i) {
        const float rate = reg_.drop_path * static_cast<float>(i) / static_cast<float>(std::max(1, c_.depth - 1));
        const float keep = 1.0f - rate;
        for (int64_t branch = 0; branch < 2; ++branch)
            for (int64_t g = 0; g < global_batch_; ++g) {
                const float scale = rate == 0.0f ? 1.0f : u(rng) < keep ? 1.0f / keep : 0.0f;
                const int64_t b = g - first_image_;
                if (b >= 0 && b < B_) drop_scale_[size_t((2 * i + branch) * B_ + b)] = scale;
            }
    }
}

// Head dropout over the (R*B, F) rows (r, b): row r of image b draws as row r of the global batch's
// image first_image_ + b.
void Network::head_dropout(float* rows) const {
    for (int64_t r = 0; r < R_; ++r)
        head_drop_.apply(rows + r * B_ * F_, rows + r * B_ * F_, B_ * F_, key(Site::Head, 0),
                         (r * global_batch_ + first_image_) * F_);
}

void Network::add_branch(const float* x_in, const float* scale, const float* gamma, const float* br,
                         float* x_out) const {
    const int64_t TD = T_ * D_;
#pragma omp parallel for
    for (int64_t b = 0; b < B_; ++b) {
        const float s = scale ? scale[b] : 1.0f;
        for (int64_t t = 0; t < T_; ++t) {
            const int64_t row = b * TD + t * D_;
            if (gamma)
                for (int64_t j = 0; j < D_; ++j) x_out[row + j] = x_in[row + j] + s * gamma[j] * br[row + j];
            else
                for (int64_t j = 0; j < D_; ++j) x_out[row + j] = x_in[row + j] + s * br[row + j];
        }
    }
}

const float* Network::branch_grad(const float* dy, const float* scale, const float* gamma, const float* br,
                                  float* dgamma, uint64_t key) {
    const int64_t TD = T_ * D_;
    if (dgamma)  // dgamma_j = Σ_{b,t} scale_b dy_{b,t,j} branch_{b,t,j}, summed serially per channel
        for (int64_t b = 0; b < B_; ++b) {
            const float s = scale ? scale[b] : 1.0f;
            for (int64_t t = 0; t < T_; ++t)
                for (int64_t j = 0; j < D_; ++j) dgamma[j] += s * dy[b * TD + t * D_ + j] * br[b * TD + t * D_ + j];
        }
#pragma omp parallel for
    for (int64_t b = 0; b < B_; ++b) {
        const float s = scale ? scale[b] : 1.0f;
        for (int64_t t = 0; t < T_; ++t) {
            const int64_t row = b * TD + t * D_;
            for (int64_t j = 0; j < D_; ++j) dbranch_[size_t(row + j)] = s * (gamma ? gamma[j] : 1.0f) * dy[row + j];
        }
    }
    drop_.apply(dbranch_.data(), dbranch_.data(), M_ * D_, key, mask_first(T_ * D_));
    return dbranch_.data();
}

uint64_t Network::key(Site site, int block) const {
    return mix64(noise_seed_ ^ mix64((static_cast<uint64_t>(site) << 32) + static_cast<uint64_t>(block)));
}

const float* Network::attention_grad(int block) const {
    if (!keep_att_grad_) throw ConfigError("attention gradients were not kept: plan the network with keep_attention_grad");
    if (block < 0 || block >= c_.depth)
        throw ConfigError("block " + std::to_string(block) + " out of range [0, " + std::to_string(c_.depth) + ")");
    return at(datt_all_, block, B_ * H_ * T_ * T_, true);
}

const float* Network::pool_attention() const {
    if (c_.global_pool != GlobalPool::Map) throw ConfigError("the model has no attention pool (global_pool is not map)");
    return attn_pool_.attention();
}

const float* Network::attention(int block) const {
    if (!per_block_) throw ConfigError("attention maps were not kept: plan the network with capture_attention");
    if (block < 0 || block >= c_.depth)
        throw ConfigError("block " + std::to_string(block) + " out of range [0, " + std::to_string(c_.depth) + ")");
    return at(att_, block, B_ * H_ * T_ * T_, true);
}

}  // namespace vit
