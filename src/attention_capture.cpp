// Attention and attention gradients for explanations: a training-mode Network, so that the backward
// pass of the class logits reaches every block's attention.
#include <algorithm>

#include "network.hpp"
#include "vit/error.hpp"
#include "vit/explain.hpp"
#include "vit/memory.hpp"
#include "vit/shape_check.hpp"

namespace vit {

AttentionCapture capture_attention(const Model& model, const Tensor& x, const std::vector<int>& classes, int batch,
                                   bool gradients) {
    const ViTConfig& c = model.config();
    check_input_shape(x, c, "input");
    const int64_t N = x.shape[0], K = c.num_classes, T = c.num_tokens(), H = c.num_heads;
    if (gradients && static_cast<int64_t>(classes.size()) != N)
        throw ConfigError("gradient rollout needs one class per image: " + std::to_string(classes.size()) +
                          " classes for " + std::to_string(N) + " images");
    for (int k : classes)
        if (k < 0 || k >= K)
            throw ConfigError("class " + std::to_string(k) + " out of range [0, " + std::to_string(K) + ")");
    batch = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(batch, N)));
    NetworkOptions opts;
    opts.training = gradients;  // the backward pass reaches the attention gradients
    opts.capture_attention = true;
    opts.keep_attention_grad = gradients;
    // The maps returned, (N, H, T, T) per block (twice with gradients), plus the network, before either
    // is allocated: for ViT-B/16 they are 22 MB per image.
    const double maps = Network::attention_maps_bytes(c, N) * (gradients ? 2 : 1);
    require_memory(maps + Network::estimate_bytes(c, batch, opts),
                   "capturing the attention" + std::string(gradients ? " and its gradients" : "") + " of " +
                       std::to_string(N) + " images (" + std::to_string(c.depth) + " blocks of " +
                       std::to_string(H) + " heads over " + std::to_string(T) + " tokens)");
    Network net(c, batch, opts);
    Parameters grads(c);  // parameter gradients are a by-product here
    std::vector<float> dlogits(size_t(batch) * K);

    AttentionCapture out;
    out.logits = Tensor({N, K});
    for (int i = 0; i < c.depth; ++i) {
        out.attn.emplace_back(Shape{N, H, T, T});
        if (gradients) out.grad.emplace_back(Shape{N, H, T, T});
    }
    const int64_t image = int64_t(c.in_chans) * c.img_h * c.img_w, map = H * T * T;
    for (int64_t s = 0; s < N; s += batch) {
        const int n = static_cast<int>(std::min<int64_t>(batch, N - s));
        const float* logits = net.forward(model.params(), x.ptr() + s * image, n);
        std::copy(logits, logits + n * K, out.logits.ptr() + s * K);
        for (int i = 0; i < c.depth; ++i)
            std::copy_n(net.attention(i), n * map, out.attn[size_t(i)].ptr() + s * map);
        if (!gradients) continue;
        // d(Σ_i logit_{c_i}) / d logits is one-hot per row; absent rows get zero.
        std::fill(dlogits.begin(), dlogits.end(), 0.0f);
        for (int b = 0; b < n; ++b) dlogits[size_t(b) * K + size_t(classes[size_t(s + b)])] = 1.0f;
        net.backward(model.params(), dlogits.data(), grads);
        for (int i = 0; i < c.depth; ++i)
            std::copy_n(net.attention_grad(i), n * map, out.grad[size_t(i)].ptr() + s * map);
    }
    return out;
}

}  // namespace vit
