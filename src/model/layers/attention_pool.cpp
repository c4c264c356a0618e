#include "model/layers/attention_pool.hpp"

#include <algorithm>
#include <cmath>

namespace vit::layers {

AttentionPool::AttentionPool(int64_t batch, int64_t tokens, int64_t skip, int64_t dim, int64_t heads, int64_t hidden,
                             float eps, Activation act, bool backward)
    : B_(batch), T_(tokens), S_(skip), D_(dim), H_(heads), Hm_(hidden), training_(backward) {
    q_ = Linear(1, D_, D_, true, Epilogue::None, backward);
    kv_ = Linear(B_ * T_, D_, 2 * D_, true, Epilogue::None, backward);
    proj_ = Linear(B_, D_, D_, true, Epilogue::None, backward);
    fc1_ = Linear(B_, D_, Hm_, true, backward ? Epilogue::None : Epilogue::Activate, backward, act);
    fc2_ = Linear(B_, Hm_, D_, true, Epilogue::Accumulate, backward);  // y = y0 + fc2(h)
    norm_ = LayerNorm(B_, D_, eps, backward);
    q_out_.resize(D_);
    kv_out_.resize(B_ * T_ * 2 * D_);
    att_.resize(B_ * H_ * (T_ - S_));
    o_.resize(B_ * D_);
    y0_.resize(B_ * D_);
    ln_.resize(B_ * D_);
    h_.resize(B_ * Hm_);
    if (!backward) return;
    act_ = Gelu(B_ * Hm_, act);
    mean_.resize(B_);
    var_.resize(B_);
    hpre_.resize(B_ * Hm_);
    for (auto* v : {&dy0_, &dln_, &do_}) v->resize(B_ * D_);
    dh_.resize(B_ * Hm_);
    dhpre_.resize(B_ * Hm_);
    dq_.resize(D_);
    dlatent_.resize(D_);
    dkv_.resize(B_ * T_ * 2 * D_);
    datt_.resize(att_.size());
}

void AttentionPool::forward(const Params& p, const float* x, float* y) {
    const int64_t N = T_ - S_, hd = D_ / H_, D2 = 2 * D_;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    q_.forward(p.latent, p.q_w, p.q_b, q_out_.data());
    kv_.forward(x, p.kv_w, p.kv_b, kv_out_.data());
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < B_; ++b)
        for (int64_t h = 0; h < H_; ++h) {
            const float* q = q_out_.data() + h * hd;
            float* a = att_.data() + (b * H_ + h) * N;
            float m = -INFINITY;
            for (int64_t n = 0; n < N; ++n) {
                const float* k = kv_out_.data() + (b * T_ + S_ + n) * D2 + h * hd;
                float s = 0;
                for (int64_t c = 0; c < hd; ++c) s += q[c] * k[c];
                a[n] = s * scale;
                m = std::max(m, a[n]);
            }
            float sum = 0;
            for (int64_t n = 0; n < N; ++n) sum += a[n] = std::exp(a[n] - m);
            for (int64_t n = 0; n < N; ++n) a[n] /= sum;
            float* o = o_.data() + b * D_ + h * hd;
            std::fill(o, o + hd, 0.0f);
            for (int64_t n = 0; n < N; ++n) {
                const float* v = kv_out_.data() + (b * T_ + S_ + n) * D2 + D_ + h * hd;
                for (int64_t c = 0; c < hd; ++c) o[c] += a[n] * v[c];
            }
        }
    proj_.forward(o_.data(), p.proj_w, p.proj_b, y0_.data());
    norm_.forward(y0_.data(), p.norm_w, p.norm_b, ln_.data(), training_ ? mean_.data() : nullptr,
                  training_ ? var_.data() : nullptr);
    if (training_) {
        fc1_.forward(ln_.data(), p.fc1_w, p.fc1_b, hpre_.data());
        act_.forward(hpre_.data(), h_.data());
    } else {
        fc1_.forward(ln_.data(), p.fc1_w, p.fc1_b, h_.data());  // activation fused
    }
    std::copy(y0_.begin(), y0_.end(), y);
    fc2_.forward(h_.data(), p.fc2_w, p.fc2_b, y);
}

void AttentionPool::backward(const Params& p, const float* x, const float* dy, float* dx, const Grads& g,
                             BackwardRule rule) {
    const int64_t N = T_ - S_, hd = D_ / H_, D2 = 2 * D_;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const bool lrp = rule == BackwardRule::AttnLrp;
    // y = y0 + fc2(act(fc1(norm(y0)))): dy0 = dy + the MLP branch's gradient.
    fc2_.backward(h_.data(), p.fc2_w, dy, dh_.data(), g.fc2_w, g.fc2_b);
    if (lrp)
        Gelu::identity_rule(hpre_.data(), h_.data(), dh_.data(), dhpre_.data(), B_ * Hm_);
    else
        act_.backward(hpre_.data(), dh_.data(), dhpre_.data());
    fc1_.backward(ln_.data(), p.fc1_w, dhpre_.data(), dln_.data(), g.fc1_w, g.fc1_b);
    if (lrp)
        norm_.backward_fixed_scale(var_.data(), p.norm_w, dln_.data(), dy0_.data());
    else
        norm_.backward(y0_.data(), mean_.data(), var_.data(), p.norm_w, dln_.data(), dy0_.data(), g.norm_w, g.norm_b);
    for (int64_t i = 0; i < B_ * D_; ++i) dy0_[size_t(i)] += dy[i];
    proj_.backward(o_.data(), p.proj_w, dy0_.data(), do_.data(), g.proj_w, g.proj_b);

    // Attention: da = do · v, dv = a do, ds = a ⊙ (da - Σ a da), dq = Σ ds k / √hd, dk = ds q / √hd.
    // AttnLRP splits o = Σ a v evenly between a and v: half of da and of dv (the query is a parameter,
    // so nothing is split again before k).
    const float share = lrp ? 0.5f : 1.0f;
    std::fill(dkv_.begin(), dkv_.end(), 0.0f);
    std::fill(dq_.begin(), dq_.end(), 0.0f);
#pragma omp parallel for
    for (int64_t h = 0; h < H_; ++h) {  // heads own disjoint columns of dq and dkv
        const float* q = q_out_.data() + h * hd;
        for (int64_t b = 0; b < B_; ++b) {
            const float* a = att_.data() + (b * H_ + h) * N;
            float* da = datt_.data() + (b * H_ + h) * N;
            const float* dout = do_.data() + b * D_ + h * hd;
            float dot = 0;
            for (int64_t n = 0; n < N; ++n) {
                const int64_t row = (b * T_ + S_ + n) * D2;
                const float* v = kv_out_.data() + row + D_ + h * hd;
                float* dv = dkv_.data() + row + D_ + h * hd;
                float s = 0;
                for (int64_t c = 0; c < hd; ++c) {
                    s += dout[c] * v[c];
                    dv[c] = share * a[n] * dout[c];
                }
                da[n] = share * s;
                dot += a[n] * da[n];
            }
            for (int64_t n = 0; n < N; ++n) {
                const int64_t row = (b * T_ + S_ + n) * D2;
                const float ds = a[n] * (da[n] - dot) * scale;
                const float* k = kv_out_.data() + row + h * hd;
                float* dk = dkv_.data() + row + h * hd;
                for (int64_t c = 0; c < hd; ++c) {
                    dq_[size_t(h * hd + c)] += ds * k[c];
                    dk[c] = ds * q[c];
                }
            }
        }
    }
    kv_.backward(x, p.kv_w, dkv_.data(), dx, g.kv_w, g.kv_b);
    q_.backward(p.latent, p.q_w, dq_.data(), dlatent_.data(), g.q_w, g.q_b);
    for (int64_t c = 0; c < D_; ++c) g.latent[c] += dlatent_[size_t(c)];
}

}  // namespace vit::layers
