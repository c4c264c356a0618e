#include "explain/attn_lrp.hpp"

#include <algorithm>

#include "vit/util/error.hpp"
#include "vit/util/logits.hpp"

namespace vit {

namespace {
NetworkOptions training_network() {
    NetworkOptions opts;
    opts.training = true;  // keeps every activation the modified backward reads
    return opts;
}

const ViTConfig& checked(const ViTConfig& c) {
    if (c.num_classes <= 0)
        throw ConfigError("attnlrp explains a class, and this model has no classifier (num_classes 0)");
    return c;
}
}  // namespace

AttnLrp::AttnLrp(const Model& model, int batch)
    : model_(model),
      net_(checked(model.config()), batch, training_network()),
      grads_(model.config()),
      dlogits_(size_t(batch) * size_t(model.config().num_classes)) {}

Tensor AttnLrp::map(const float* x, int n, const std::vector<int>& classes) {
    const ViTConfig& c = model_.config();
    const int64_t K = c.num_classes, T = c.num_tokens(), D = c.embed_dim, pre = c.num_prefix(), P = c.num_patches();
    if (static_cast<int>(classes.size()) != n)
        throw ConfigError("attnlrp: " + std::to_string(classes.size()) + " classes for " + std::to_string(n) +
                          " images");
    // The relevance of logit c starts as the logit itself: gradient one at c, zero elsewhere.
    one_hot_rows(classes, static_cast<int>(K), net_.batch(), dlogits_, "attnlrp");
    net_.forward(model_.params(), x, n);
    net_.backward(model_.params(), dlogits_.data(), grads_, BackwardRule::AttnLrp);
    // After backward, the saved input gradient is the modified gradient at the input embeddings.
    const SavedActivations saved = net_.saved();
    const float *e = saved.embedding, *g = saved.input_grad;
    Tensor out({n, P});
    for (int64_t b = 0; b < n; ++b)
        for (int64_t j = 0; j < P; ++j) {
            const int64_t row = (b * T + pre + j) * D;
            double r = 0;
            for (int64_t d = 0; d < D; ++d) r += double(e[row + d]) * g[row + d];
            out.data[size_t(b * P + j)] = static_cast<float>(r);
        }
    return out;
}

}  // namespace vit
