// Runner: the inference face of Network, holding the model it runs; run_forward over a whole tensor.
#include <omp.h>

#include <algorithm>
#include <string>

#include "model/network/network.hpp"
#include "vit/model/model.hpp"
#include "model/shape_check.hpp"
#include "vit/util/memory.hpp"

namespace vit {

namespace {
NetworkOptions network_options(const RunOptions& o) {
    NetworkOptions n;
    n.capture_attention = o.capture_attention;
    n.dtype = o.dtype;
    return n;
}
}  // namespace

struct Runner::Impl {
    const Model& model;
    Network net;
    Impl(const Model& m, int batch, const RunOptions& o)
        : model(m), net(m.config(), batch, network_options(o)) {
        net.pack_weights(m.params());
    }
};

Runner::Runner(const Model& model, int batch, RunOptions opts) {
    if (opts.threads > 0) omp_set_num_threads(opts.threads);
    impl_ = std::make_unique<Impl>(model, batch, opts);
}
Runner::~Runner() = default;

int Runner::batch() const { return impl_->net.batch(); }

const float* Runner::forward(const float* x, int n) { return impl_->net.forward(impl_->model.params(), x, n); }

const float* Runner::attention(int block) const { return impl_->net.attention(block); }

Tensor run_forward(const Model& model, const Tensor& x, int batch, std::vector<Tensor>* attention, Dtype dtype) {
    const ViTConfig& c = model.config();
    check_input_shape(x, c, "input");
    const int64_t N = x.shape[0];
    batch = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(batch, N)));
    RunOptions opts;
    opts.capture_attention = attention != nullptr;
    opts.dtype = dtype;
    // The maps returned for all N images, before the runner allocates its own (22 MB per image for ViT-B/16).
    if (attention)
        require_memory(Network::attention_maps_bytes(c, N),
                       "the attention maps of " + std::to_string(N) + " images (" + std::to_string(c.depth) +
                           " blocks of " + std::to_string(c.num_heads) + " heads over " +
                           std::to_string(c.num_tokens()) + " tokens)");
    Runner runner(model, batch, opts);
    const int64_t image = int64_t(c.in_chans) * c.img_h * c.img_w;
    const int64_t T = c.num_tokens(), H = c.num_heads;
    const int64_t O = c.num_outputs();
    Tensor logits({N, O});
    if (attention) {
        attention->clear();
        for (int i = 0; i < c.depth; ++i) attention->emplace_back(Shape{N, H, T, T});
    }
    for (int64_t i = 0; i < N; i += batch) {
        const int n = static_cast<int>(std::min<int64_t>(batch, N - i));
        const float* out = runner.forward(x.ptr() + i * image, n);
        std::copy(out, out + int64_t(n) * O, logits.ptr() + i * O);
        if (attention)
            for (int b = 0; b < c.depth; ++b) {
                const float* a = runner.attention(b);
                std::copy(a, a + int64_t(n) * H * T * T, (*attention)[b].ptr() + i * H * T * T);
            }
    }
    return logits;
}

}  // namespace vit
