// Attention and attention gradients for explanations: a training-mode Network, so that the backward
// pass of the class logits reaches every block's attention.
#include <algorithm>

#include "model/network/network.hpp"
#include "vit/util/error.hpp"
#include "vit/explain/attention_maps.hpp"
#include "vit/util/logits.hpp"
#include "vit/util/memory.hpp"
#include "model/shape_check.hpp"

namespace vit {

struct AttentionCapturer::Impl {
    Impl(const Model& m, int b, bool g, Dtype dtype)
        : model(m), batch(b), gradients(g), net(m.config(), b, options(g, dtype)), grads(m.config()),
          dlogits(size_t(b) * size_t(std::max(0, m.config().num_classes))) {
        net.pack_weights(m.params());  // bf16 copies of the weights, made once
    }

    static NetworkOptions options(bool gradients, Dtype dtype) {
        NetworkOptions opts;
        opts.training = gradients;  // the backward pass reaches the attention gradients
        opts.capture_attention = true;
        opts.keep_attention_grad = gradients;
        opts.dtype = dtype;
        return opts;
    }

    const Model& model;
    const int batch;
    const bool gradients;
    Network net;
    Parameters grads;  // parameter gradients are a by-product here
    std::vector<float> dlogits;
};

AttentionCapturer::AttentionCapturer(const Model& model, int batch, bool gradients, Dtype dtype) {
    if (batch < 1) throw ConfigError("attention capture: batch must be >= 1, got " + std::to_string(batch));
    if (gradients && model.config().num_classes <= 0)
        throw ConfigError("attention gradients need a model with a classifier, this one has num_classes 0");
    if (gradients && dtype != Dtype::F32)
        throw ConfigError(std::string("attention gradients are computed in f32 only, not ") + to_string(dtype));
    impl_ = std::make_unique<Impl>(model, batch, gradients, dtype);
}

AttentionCapturer::~AttentionCapturer() = default;

int AttentionCapturer::batch() const { return impl_->batch; }

AttentionCapture AttentionCapturer::run(const float* x, int n, const std::vector<int>& classes) {
    Impl& m = *impl_;
    const ViTConfig& c = m.model.config();
    if (n < 1 || n > m.batch)
        throw ConfigError("attention capture: " + std::to_string(n) + " images for a batch of " + std::to_string(m.batch));
    const int64_t K = c.num_classes, T = c.num_tokens(), H = c.num_heads;
    if (m.gradients && static_cast<int64_t>(classes.size()) != n)
        throw ConfigError("attention gradients need one class per image: " + std::to_string(classes.size()) +
                          " classes for " + std::to_string(n) + " images");
    // d(Σ_i logit_{c_i}) / d logits is one-hot per row; absent rows get zero.
    if (m.gradients) one_hot_rows(classes, static_cast<int>(K), m.batch, m.dlogits, "attention gradients");
    AttentionCapture out;
    const float* logits = m.net.forward(m.model.params(), x, n);
    out.logits = Tensor({n, K}, std::vector<float>(logits, logits + n * K));
    const int64_t map = H * T * T;
    for (int i = 0; i < c.depth; ++i) {
        const float* a = m.net.attention(i);
        out.attn.emplace_back(Shape{n, H, T, T}, std::vector<float>(a, a + n * map));
    }
    if (!m.gradients) return out;
    m.net.backward(m.model.params(), m.dlogits.data(), m.grads);
    for (int i = 0; i < c.depth; ++i) {
        const float* g = m.net.attention_grad(i);
        out.grad.emplace_back(Shape{n, H, T, T}, std::vector<float>(g, g + n * map));
    }
    return out;
}

AttentionCapture capture_attention(const Model& model, const Tensor& x, const std::vector<int>& classes, int batch,
                                   bool gradients, Dtype dtype) {
    const ViTConfig& c = model.config();
    check_input_shape(x, c, "input");
    const int64_t N = x.shape[0];
    if (gradients && static_cast<int64_t>(classes.size()) != N)
        throw ConfigError("gradient rollout needs one class per image: " + std::to_string(classes.size()) +
                          " classes for " + std::to_string(N) + " images");
    batch = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(batch, N)));
    const int64_t K = c.num_classes, T = c.num_tokens(), H = c.num_heads;
    // The maps returned, (N, H, T, T) per block (twice with gradients), before they are allocated: for
    // ViT-B/16 they are 22 MB per image. (The capturer's network checks its own size.)
    const double maps = Network::attention_maps_bytes(c, N) * (gradients ? 2 : 1);
    require_memory(maps, "capturing the attention" + std::string(gradients ? " and its gradients" : "") + " of " +
                             std::to_string(N) + " images (" + std::to_string(c.depth) + " blocks of " +
                             std::to_string(H) + " heads over " + std::to_string(T) + " tokens)");
    AttentionCapturer capturer(model, batch, gradients, dtype);

    AttentionCapture out;
    out.logits = Tensor({N, K});
    for (int i = 0; i < c.depth; ++i) {
        out.attn.emplace_back(Shape{N, H, T, T});
        if (gradients) out.grad.emplace_back(Shape{N, H, T, T});
    }
    const int64_t image = int64_t(c.in_chans) * c.img_h * c.img_w, map = H * T * T;
    for (int64_t s = 0; s < N; s += batch) {
        const int n = static_cast<int>(std::min<int64_t>(batch, N - s));
        const std::vector<int> part = gradients ? std::vector<int>(classes.begin() + s, classes.begin() + s + n)
                                                : std::vector<int>();
        const AttentionCapture cap = capturer.run(x.ptr() + s * image, n, part);
        std::copy_n(cap.logits.ptr(), n * K, out.logits.ptr() + s * K);
        for (int i = 0; i < c.depth; ++i) {
            std::copy_n(cap.attn[size_t(i)].ptr(), n * map, out.attn[size_t(i)].ptr() + s * map);
            if (gradients) std::copy_n(cap.grad[size_t(i)].ptr(), n * map, out.grad[size_t(i)].ptr() + s * map);
        }
    }
    return out;
}

}  // namespace vit
