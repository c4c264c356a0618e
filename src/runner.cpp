// Runner: the inference face of Network, holding the model it runs.
#include <omp.h>

#include "network.hpp"
#include "vit/model.hpp"

namespace vit {

struct Runner::Impl {
    const Model& model;
    Network net;
    Impl(const Model& m, int batch, const RunOptions& o)
        : model(m), net(m.config(), batch, NetworkOptions{false, o.capture_attention, false, {}, o.dtype}) {
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

}  // namespace vit
