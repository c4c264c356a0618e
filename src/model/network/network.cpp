#include "model/network/network.hpp"

#include <algorithm>
#include <random>

#include "util/mix64.hpp"
#include "vit/util/memory.hpp"
#include "model/network/buffers.hpp"
#include "vit/util/error.hpp"

namespace vit {

using layers::Epilogue;

namespace {
NetworkModes network_modes(const ViTConfig& cfg, const NetworkOptions& opts) {
    NetworkModes m;
    m.training = opts.training;
    m.keep_attention = opts.training || opts.capture_attention;
    m.keep_attention_grad = opts.training && opts.keep_attention_grad;
    if (opts.training) {
        opts.reg.validate();
        m.reg = opts.reg;
        opts.trainable.validate(cfg.depth);
        m.trainable = opts.trainable;
    }
    m.branched = m.reg.drop_path > 0 || m.reg.dropout > 0 || cfg.layer_scale();
    m.per_branch = opts.training && cfg.layer_scale();
    m.precision = Precision::choose(opts.dtype, opts.training);
    return m;
}
// Element counts of a plan as sizes (require_memory has bounded them).
size_t count(double n) { return static_cast<size_t>(n); }
}  // namespace

Network::Network(const ViTConfig& cfg, int batch, const NetworkOptions& opts)
    : c_((cfg.validate(), cfg)), off_(param_layout(cfg).slots), modes_(network_modes(cfg, opts)),
      plan_(plan_activations(cfg, batch, modes_)), B_(batch), P_(cfg.num_patches()), T_(cfg.num_tokens()),
      D_(cfg.embed_dim), H_(cfg.num_heads), Hm_(cfg.mlp_hidden()), K_(cfg.num_classes), O_(cfg.num_outputs()),
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
    const ActivationPlan& a = plan_;
    patches_.resize(count(a.patches));
    tokens_.resize(count(a.tokens));
    emb_.resize(count(a.emb));
    xs_.resize(count(a.stream));
    for (auto* v : {&ln1_, &ln2_}) v->resize(count(a.ln));
    qkv_.resize(count(a.qkv));
    att_.resize(count(a.attention));
    ctx_.resize(count(a.ctx));
    hpre_.resize(count(a.hidden_pre));
    hact_.resize(count(a.hidden));
    fin_.resize(count(a.final_norm));
    pooled_.resize(count(a.pooled));
    pooled_ln_.resize(count(a.pooled_norm));
    logits_.resize(count(a.logits));
    logits_dist_.resize(count(a.logits_dist));
    features_.resize(count(a.features));
    branch_.resize(count(a.branch));
    for (auto* v : {&mean1_, &var1_, &mean2_, &var2_}) v->resize(count(a.norm_stats));
    for (auto* v : {&emb_mean_, &emb_var_}) v->resize(count(a.emb_stats));
    for (auto* v : {&fin_mean_, &fin_var_}) v->resize(count(a.final_stats));
    for (auto* v : {&dx_, &dtmp_, &dctx_}) v->resize(count(a.d_rows));
    dqkv_.resize(count(a.d_qkv));
    datt_.resize(count(a.d_attention));
    datt_all_.resize(count(a.d_attention_kept));
    dbranch_.resize(count(a.d_branch));
    drop_scale_.assign(count(a.drop_scale), 1.0f);
    att_drop_.resize(count(a.attention_dropped));
    for (auto* v : {&dh_, &dpre_}) v->resize(count(a.d_hidden));
    dpooled_.resize(count(a.d_pooled));
    dpooled_ln_.resize(count(a.d_pooled_norm));
    dhalf_.resize(count(a.d_half));
    dtokens_.resize(count(a.d_tokens));
    dfin_.resize(count(a.d_final_norm));
    ln16_.resize(count(a.ln16));
    qkv16_.resize(count(a.qkv16));
    ctx16_.resize(count(a.ctx16));
    h16_.resize(count(a.hidden16));
    params16_.resize(count(a.params16));
    const bool training = modes_.training;
    const Mode mode = modes_.precision.mode;
    if (mode == Mode::MixedBf16) {
        params_to_bf16_ = layers::Convert(static_cast<int64_t>(params16_.size()), layers::dt::f32, layers::dt::bf16);
        h_to_bf16_ = layers::Convert(M_ * Hm_, layers::dt::f32, layers::dt::bf16);
    }
    if (mode == Mode::Int8) {
        xq_ = layers::QuantizedRows(M_, D_);
        hq_ = layers::QuantizedRows(M_, Hm_);
    }
    acc_.resize(count(a.products));

    // A convolution whose stride equals its kernel sees every pixel once: it is the matmul of the
    // (B*P, C*p*p) patch matrix with the (D, C*p*p) flattened kernel, forward and backward.
    patch_ = layers::Linear(B_ * P_, patch_len_, D_, cfg.patch_bias(), Epilogue::None, training);
    // bf16 inference: qkv and fc1 write bf16 (their outputs only feed the next matmuls); proj and fc2
    // write the f32 residual stream. Mixed-precision training: the same, except fc1, whose output the
    // f32 GELU and its backward read.
    const layers::dt low = modes_.precision.bf16_operands() ? layers::dt::bf16 : layers::dt::f32;
    const layers::LinearTypes to_low{low, low}, to_f32{low, layers::dt::f32};
    // The attention products take bf16 operands in bf16 inference, mixed-precision training and int8
    // (there the qkv product writes bf16 and the attention output is quantised from bf16; on a CPU
    // without bf16 products int8 keeps the attention in f32).
    const layers::dt attention_type = modes_.precision.attention == Dtype::BF16 ? layers::dt::bf16 : layers::dt::f32;
    // The residual adds are fused into proj and fc2 (x += ...), unless the branch is dropped or scaled.
    const Epilogue residual = modes_.branched ? Epilogue::None : Epilogue::Accumulate;
    if (mode == Mode::Int8) {  // fc1 applies the activation and quantises the hidden layer for fc2
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
    attn_ = layers::Attention(B_, T_, D_, H_, training, modes_.reg.attn_drop, attention_type, first_image_);
    if (cfg.global_pool == GlobalPool::Map)
        attn_pool_ = layers::AttentionPool(B_, T_, prefix_, D_, H_, Hm_, cfg.ln_eps, cfg.act, training);
    drop_ = layers::Dropout(modes_.reg.dropout);
    head_drop_ = layers::Dropout(modes_.reg.head_drop);
    if (training) gelu_ = layers::Gelu(M_ * Hm_, cfg.act);
    ln_tokens_ = layers::LayerNorm(M_, D_, cfg.ln_eps, training);
    if (modes_.precision.bf16_operands()) ln_to_bf16_ = layers::LayerNorm(M_, D_, cfg.ln_eps, training, layers::dt::bf16);
    ln_rows_ = layers::LayerNorm(R_ * B_, D_, cfg.ln_eps, training);
}

double Network::estimate_bytes(const ViTConfig& cfg, int batch, const NetworkOptions& opts) {
    // The plan the constructor allocates from, plus the caller's input batch. The layers' own buffers
    // (packed weights, oneDNN's scratchpads) are per layer, not per image, and left out.
    const double input = double(batch) * cfg.in_chans * cfg.img_h * cfg.img_w * sizeof(float);
    return plan_activations(cfg, batch, network_modes(cfg, opts)).bytes() + input;
}

double Network::attention_maps_bytes(const ViTConfig& cfg, int64_t images) {
    const double T = cfg.num_tokens();
    return double(images) * cfg.depth * cfg.num_heads * T * T * sizeof(float);
}

size_t Network::prefix_offset(int64_t t) const {
    const int64_t n_cls = c_.class_token ? 1 : 0, n_dist = c_.distilled ? 1 : 0;
    if (t < n_cls) return off_.cls;
    if (t < n_cls + n_dist) return off_.dist;
    return off_.reg + size_t(t - n_cls - n_dist) * size_t(D_);
}

// The draws for the global batch, in order: per block with a non-zero rate, one per image for the
// attention branch, then one per image for the MLP branch; this network keeps its images' draws.
void Network::set_noise_seed(uint64_t seed) {
    noise_seed_ = seed;
    if (modes_.reg.drop_path <= 0) return;
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (int i = 0; i < c_.depth; ++i) {
        const float rate = modes_.reg.drop_path * static_cast<float>(i) / static_cast<float>(std::max(1, c_.depth - 1));
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

uint64_t Network::key(Site site, int block) const {
    return mix64(noise_seed_ ^ mix64((static_cast<uint64_t>(site) << 32) + static_cast<uint64_t>(block)));
}

const float* Network::attention_grad(int block) const {
    if (!modes_.keep_attention_grad) throw ConfigError("attention gradients were not kept: plan the network with keep_attention_grad");
    if (block < 0 || block >= c_.depth)
        throw ConfigError("block " + std::to_string(block) + " out of range [0, " + std::to_string(c_.depth) + ")");
    return at(datt_all_, block, B_ * H_ * T_ * T_, true);
}

const float* Network::pool_attention() const {
    if (c_.global_pool != GlobalPool::Map) throw ConfigError("the model has no attention pool (global_pool is not map)");
    return attn_pool_.attention();
}

const float* Network::attention(int block) const {
    if (!modes_.keep_attention) throw ConfigError("attention maps were not kept: plan the network with capture_attention");
    if (block < 0 || block >= c_.depth)
        throw ConfigError("block " + std::to_string(block) + " out of range [0, " + std::to_string(c_.depth) + ")");
    return at(att_, block, B_ * H_ * T_ * T_, true);
}

Network::BlockOperands Network::operands(int i) {
    const int64_t MD = M_ * D_, MH = M_ * Hm_;
    const bool kept = modes_.training;  // a slot per block
    float* att = att_.empty() ? nullptr : at(att_, i, B_ * H_ * T_ * T_, modes_.keep_attention);
    switch (mode()) {
    case Mode::F32: {
        float* h = at(hact_, i, MH, kept);
        return {at(ln1_, i, MD, kept), at(ln2_, i, MD, kept), at(qkv_, i, 3 * MD, kept), at(ctx_, i, MD, kept), h, h, att};
    }
    case Mode::Bf16:  // one slot of each, norm1 and norm2 sharing theirs
        return {ln16_.data(), ln16_.data(), qkv16_.data(), ctx16_.data(), h16_.data(), h16_.data(), att};
    case Mode::MixedBf16: {
        layers::Bf16* ln = ln16_.data() + 2 * i * MD;
        return {ln, ln + MD, qkv16_.data() + i * 3 * MD, ctx16_.data() + i * MD, hact_.data(), h16_.data() + i * MH, att};
    }
    case Mode::Int8: {  // the attention's operands only: the Linear layers read the quantised rows
        const bool bf16 = modes_.precision.attention == Dtype::BF16;
        void* qkv = bf16 ? static_cast<void*>(qkv16_.data()) : qkv_.data();
        void* ctx = bf16 ? static_cast<void*>(ctx16_.data()) : ctx_.data();
        return {nullptr, nullptr, qkv, ctx, nullptr, nullptr, att};
    }
    }
    return {};
}

SavedActivations Network::saved() const {
    if (!modes_.training || mode() != Mode::F32)
        throw ConfigError("saved activations are those of an f32 network planned for training");
    return {B_,
            T_,
            D_,
            H_,
            Hm_,
            K_,
            M_,
            R_,
            F_,
            prefix_,
            xs_.data(),
            c_.pre_norm ? emb_.data() : xs_.data(),
            ln1_.data(),
            ln2_.data(),
            qkv_.data(),
            att_.data(),
            ctx_.data(),
            hact_.data(),
            fin_.data(),
            pooled_.data(),
            pooled_ln_.data(),
            logits_.data(),
            logits_dist_.data(),
            dx_.data(),
            c_.global_pool == GlobalPool::Map ? attn_pool_.activations() : layers::AttentionPool::Activations{}};
}

}  // namespace vit
