#include "vit/train/evaluate.hpp"

#include <algorithm>
#include <cmath>

#include "vit/util/error.hpp"
#include "vit/util/logits.hpp"

namespace vit {

double EvalResult::class_accuracy(size_t k) const {
    const int64_t n = class_total(k);
    return n ? double(confusion[k * classes.size() + k]) / double(n) : 0.0;
}

int64_t EvalResult::class_total(size_t k) const {
    const size_t K = classes.size();
    int64_t n = 0;
    for (size_t j = 0; j < K; ++j) n += confusion[k * K + j];
    return n;
}

EvalResult evaluate(const Model& model, const Dataset& data, int batch,
                    const std::function<void(size_t, size_t)>& progress, Dtype dtype) {
    const ViTConfig& c = model.config();
    if (data.channels != c.in_chans || data.height != c.img_h || data.width != c.img_w)
        throw ConfigError("dataset images are " + std::to_string(data.channels) + "x" + std::to_string(data.height) +
                          "x" + std::to_string(data.width) + ", the model takes " + std::to_string(c.in_chans) + "x" +
                          std::to_string(c.img_h) + "x" + std::to_string(c.img_w));
    if (data.classes.size() > static_cast<size_t>(c.num_classes))
        throw ConfigError("the dataset has " + std::to_string(data.classes.size()) + " classes, the model's head " +
                          std::to_string(c.num_classes));
    const int K = c.num_classes;
    EvalResult r;
    r.classes = model.labels();
    r.confusion.assign(size_t(K) * K, 0);
    batch = static_cast<int>(std::max<size_t>(1, std::min<size_t>(size_t(batch), data.size())));
    RunOptions run;
    run.dtype = dtype;
    Runner runner(model, batch, run);
    // Two batches ahead: evaluation reads in order and needs no deeper queue, and a 224-pixel batch of
    // 256 images is 154 MB.
    LoaderOptions in_order;
    in_order.prefetch = 2;
    BatchLoader loader(data, batch, Augment{}, model.preprocess().mean, model.preprocess().std, in_order);
    loader.start_epoch(0);
    Batch b;
    double loss = 0;
    while (loader.next(b)) {
        const float* logits = runner.forward(b.x.data(), b.n);
        for (int i = 0; i < b.n; ++i) {
            const float* z = logits + int64_t(i) * K;
            const int pred = argmax(z, K);
            loss += log_sum_exp(z, K) - z[b.y[i]];  // -log softmax(z)[y]
            ++r.confusion[size_t(b.y[i]) * K + pred];
            r.correct += pred == b.y[i];
            ++r.total;
        }
        if (progress) progress(size_t(r.total), data.size());
    }
    r.loss = r.total ? loss / double(r.total) : 0.0;
    return r;
}

}  // namespace vit
