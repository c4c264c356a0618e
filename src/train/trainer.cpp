#include "vit/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <utility>

#include "model/network/network.hpp"
#include "vit/util/error.hpp"
#include "vit/util/logits.hpp"

namespace vit {

float Schedule::lr(int64_t step) const {
    if (step < warmup_steps) return base_lr * static_cast<float>(step) / static_cast<float>(warmup_steps);
    const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
    const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(span));
    return static_cast<float>(min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * progress)));
}

float cross_entropy(const float* logits, const int* labels, int n, int K, float s, float* dlogits) {
    double total = 0;
    const float off = s / static_cast<float>(K), on = 1.0f - s + off;
    for (int i = 0; i < n; ++i) {
        if (labels[i] < 0 || labels[i] >= K)
            throw ConfigError("label " + std::to_string(labels[i]) + " out of range [0, " + std::to_string(K) + ")");
        const float* z = logits + int64_t(i) * K;
        float* d = dlogits + int64_t(i) * K;
        const double log_sum = log_sum_exp(z, K);
        for (int k = 0; k < K; ++k) {
            const float q = k == labels[i] ? on : off;
            const double logp = z[k] - log_sum;
            total -= q * logp;
            d[k] = static_cast<float>((std::exp(logp) - q) / n);
        }
    }
    return static_cast<float>(total / n);
}

float soft_cross_entropy(const float* logits, const float* targets, int n, int K, float* dlogits) {
    double total = 0;
    for (int i = 0; i < n; ++i) {
        const float* z = logits + int64_t(i) * K;
        const float* t = targets + int64_t(i) * K;
        float* d = dlogits + int64_t(i) * K;
        const double log_sum = log_sum_exp(z, K);
        for (int k = 0; k < K; ++k) {
            const double logp = z[k] - log_sum;
            total -= t[k] * logp;
            d[k] = static_cast<float>((std::exp(logp) - t[k]) / n);
        }
    }
    return static_cast<float>(total / n);
}

float clip_grad_norm(Parameters& grads, float max_norm) {
    double sq = 0;
    const float* g = grads.data();
    for (size_t i = 0; i < grads.size(); ++i) sq += double(g[i]) * g[i];
    const float norm = static_cast<float>(std::sqrt(sq));
    // PyTorch: clip_coef = max_norm / (norm + 1e-6), applied when below 1.
    if (max_norm > 0 && norm > max_norm) {
        const float scale = max_norm / (norm + 1e-6f);
        float* gw = grads.data();
        for (size_t i = 0; i < grads.size(); ++i) gw[i] *= scale;
    }
    return norm;
}

namespace {

// Elements per optimizer chunk: large enough that a chunk's loop dwarfs the scheduling, small enough
// that vit_base's 2.4M-element fc1 spreads over every thread.
constexpr size_t kChunk = 1 << 16;

}  // namespace

AdamW::AdamW(const Parameters& params, const OptimConfig& cfg) : cfg_(cfg), views_(params.views()) {
    if (!(cfg.layer_decay > 0.0f && cfg.layer_decay <= 1.0f))
        throw FieldError("OptimConfig", "layer_decay", "must be in (0, 1]", std::to_string(cfg.layer_decay));
    int depth = 0;
    for (const ParamView& v : views_) {
        depth = std::max(depth, v.block);
        top_layer_ = std::max(top_layer_, v.decay_layer);
    }
    cfg.trainable.validate(depth);
    size_t state = 0;
    state_of_.assign(views_.size(), kNoParam);
    for (size_t k = 0; k < views_.size(); ++k) {
        const ParamView& v = views_[k];
        const ParamGroup g = group(v);
        if (!g.trainable) continue;
        state_of_[k] = state;
        for (size_t first = 0; first < v.numel; first += kChunk)
            chunks_.push_back({v.offset + first, state + first, std::min(kChunk, v.numel - first), g.lr_scale,
                               g.weight_decay > 0.0f ? 1.0f : 0.0f});
        state += v.numel;
    }
    m_.assign(state, 0.0f);
    v_.assign(state, 0.0f);
}

ParamGroup AdamW::group(const ParamView& v) const {
    ParamGroup g;
    g.trainable = cfg_.trainable.updates(v);
    g.lr_scale = static_cast<float>(std::pow(double(cfg_.layer_decay), double(top_layer_ - v.decay_layer)));
    // timm's rule: no decay for 1-D tensors (biases, norms, LayerScale) and no_weight_decay()'s
    // position embedding and prefix tokens.
    const bool decays = v.role == ParamRole::Weight || v.role == ParamRole::Latent;
    g.weight_decay = cfg_.exclude_from_decay && !decays ? 0.0f : cfg_.weight_decay;
    return g;
}

float* AdamW::exp_avg(const ParamView& p) {
    for (size_t k = 0; k < views_.size(); ++k)
        if (views_[k].offset == p.offset && state_of_[k] != kNoParam) return m_.data() + state_of_[k];
    return nullptr;
}

float* AdamW::exp_avg_sq(const ParamView& p) {
    float* m = exp_avg(p);
    return m ? v_.data() + (m - m_.data()) : nullptr;
}

void AdamW::step(Parameters& params, const Parameters& grads, float lr) {
    ++t_;
    const float b1 = cfg_.beta1, b2 = cfg_.beta2;
    const float bc1 = 1.0f - std::pow(b1, static_cast<float>(t_));
    const float bc2_sqrt = std::sqrt(1.0f - std::pow(b2, static_cast<float>(t_)));
    const float eps = cfg_.eps;
    float* const P = params.data();
    const float* const G = grads.data();
    const int64_t chunks = static_cast<int64_t>(chunks_.size());
#pragma omp parallel for schedule(dynamic)
    for (int64_t c = 0; c < chunks; ++c) {
        const Chunk& ch = chunks_[size_t(c)];
        // The group's learning rate: PyTorch's AdamW with param_groups, lr * lr_scale for both the
        // step and the decoupled decay.
        const float group_lr = lr * ch.lr_scale;
        const float step_size = group_lr / bc1, wd = group_lr * cfg_.weight_decay * ch.decay;
        float* p = P + ch.param;
        const float* g = G + ch.param;
        float *m = m_.data() + ch.state, *v = v_.data() + ch.state;
        const int64_t n = static_cast<int64_t>(ch.n);
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) {
            p[i] *= 1.0f - wd;
            m[i] = b1 * m[i] + (1.0f - b1) * g[i];
            v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            p[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
        }
    }
}

namespace {
NetworkOptions training_options(const ViTConfig& cfg, const OptimConfig& c, const DataParallel& dp) {
    if (cfg.num_classes == 0) throw ConfigError("training needs a classifier head, but the model has num_classes 0");
    NetworkOptions o;
    o.training = true;
    o.reg = c.regularization;
    o.dtype = c.dtype;
    o.slice = dp.slice;
    o.trainable = c.trainable;
    return o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

struct Trainer::Impl {
    Model& model;
    OptimConfig cfg;
    DataParallel dp;
    Network net;
    Parameters grads;
    AdamW adam;
    std::vector<float> dlogits;
    Impl(Model& m, int batch, const OptimConfig& c, const DataParallel& d)
        : model(m), cfg(c), dp(d), net(m.config(), batch, training_options(m.config(), c, d)), grads(m.config()),
          adam(m.params(), c), dlogits(size_t(batch) * m.config().num_classes, 0.0f) {
        if (shared() && dp.slice.total <= 0)
            throw ConfigError("training shared by " + std::to_string(dp.comm->size()) +
                              " processes needs this process's slice of the batch (DataParallel::slice)");
    }

    bool shared() const { return dp.comm != nullptr && dp.comm->size() > 1; }

    // This process's gradient of its mean loss over n images becomes its share (n / N) of the global
    // mean's gradient; the allreduce sums the shares. A barrier first, so that the time spent waiting
    // for the slowest process is told apart from the reduction itself.
    void reduce(StepResult& r, int n) {
        const int64_t N = dp.slice.total;
        const float share = static_cast<float>(double(n) / double(N));
        float* g = grads.data();
        const int64_t size = static_cast<int64_t>(grads.size());
#pragma omp parallel for simd
        for (int64_t i = 0; i < size; ++i) g[i] *= share;
        auto t0 = std::chrono::steady_clock::now();
        dp.comm->barrier();
        r.wait_s = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        dp.comm->allreduce_sum(g, grads.size());
        r.reduce_s = seconds_since(t0);
        double totals[2] = {double(r.loss) * n, double(r.correct)};
        dp.comm->allreduce_sum(totals, 2);
        r.loss = static_cast<float>(totals[0] / double(N));
        r.correct = static_cast<int>(totals[1]);
    }
};

Trainer::Trainer(Model& model, int batch, const OptimConfig& cfg, const DataParallel& dp)
    : impl_(std::make_unique<Impl>(model, batch, cfg, dp)) {}
Trainer::~Trainer() = default;

StepResult Trainer::compute_gradients(const float* x, const int* labels, int n) {
    return compute_gradients(x, labels, nullptr, n);
}

StepResult Trainer::compute_gradients(const float* x, const int* labels, const float* targets, int n) {
    Impl& s = *impl_;
    const int K = s.model.config().num_classes;
    const float* logits = s.net.forward(s.model.params(), x, n);
    StepResult r;
    std::fill(s.dlogits.begin(), s.dlogits.end(), 0.0f);  // absent rows contribute nothing
    r.loss = targets ? soft_cross_entropy(logits, targets, n, K, s.dlogits.data())
                     : cross_entropy(logits, labels, n, K, s.cfg.label_smoothing, s.dlogits.data());
    for (int i = 0; i < n; ++i) {
        const float* z = logits + int64_t(i) * K;
        r.correct += argmax(z, K) == labels[i];
    }
    std::fill(s.grads.data(), s.grads.data() + s.grads.size(), 0.0f);
    s.net.backward(s.model.params(), s.dlogits.data(), s.grads);
    return r;
}

StepResult Trainer::step(const float* x, const int* labels, int n, float lr) { return step(x, labels, nullptr, n, lr); }

StepResult Trainer::step(const float* x, const int* labels, const float* targets, int n, float lr) {
    StepResult r = compute_gradients(x, labels, targets, n);
    if (impl_->shared()) impl_->reduce(r, n);
    r.grad_norm = clip_grad_norm(impl_->grads, impl_->cfg.clip_grad_norm);
    impl_->adam.step(impl_->model.params(), impl_->grads, lr);
    return r;
}

void Trainer::set_noise_seed(uint64_t seed) { impl_->net.set_noise_seed(seed); }

const Parameters& Trainer::grads() const { return impl_->grads; }
AdamW& Trainer::optimizer() { return impl_->adam; }
int Trainer::batch() const { return impl_->net.batch(); }

}  // namespace vit
