// How a reduced-precision run of a model agrees with its f32 run on labelled images: the top-1 class of
// both for every image, counted against each other and against the labels. The bf16 and int8 accuracy
// tests of the shipped CIFAR-10 model share it.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "vit/util/logits.hpp"
#include "vit/vit.hpp"

namespace vit_test {

struct Agreement {
    int64_t total = 0;
    int64_t agree = 0;       // images where both runs name the same class
    int64_t right_f32 = 0;   // images the f32 run gets right
    int64_t right_other = 0; // images the reduced-precision run gets right
};

inline Agreement agreement_with_f32(const vit::Model& model, vit::Dtype dtype,
                                    std::initializer_list<const vit::Dataset*> sets, int batch = 250) {
    const int K = model.config().num_classes;
    vit::Runner f32(model, batch), other(model, batch, vit::RunOptions{}.with_dtype(dtype));
    Agreement a;
    for (const vit::Dataset* d : sets) {
        vit::BatchLoader loader(*d, batch, vit::Augment{}, model.preprocess().mean, model.preprocess().std,
                                vit::LoaderOptions{});
        loader.start_epoch(0);
        vit::Batch b;
        while (loader.next(b)) {
            const float* z32 = f32.forward(b.x.data(), b.n);
            const float* zo = other.forward(b.x.data(), b.n);
            for (int i = 0; i < b.n; ++i) {
                const int p32 = vit::argmax(z32 + i * K, K), po = vit::argmax(zo + i * K, K);
                a.agree += p32 == po;
                a.right_f32 += p32 == b.y[size_t(i)];
                a.right_other += po == b.y[size_t(i)];
                ++a.total;
            }
        }
    }
    return a;
}

}  // namespace vit_test
