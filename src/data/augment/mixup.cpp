#include "vit/data/augment/mixup.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "data/random.hpp"
#include "vit/util/error.hpp"

namespace vit {

void MixupConfig::validate() const {
    for (auto [name, v] : {std::pair{"mixup_alpha", mixup_alpha}, std::pair{"cutmix_alpha", cutmix_alpha}})
        if (!(v >= 0.0f)) throw ConfigError(std::string("MixupConfig::") + name + " must be >= 0, got " + std::to_string(v));
    for (auto [name, v] : {std::pair{"prob", prob}, std::pair{"switch_prob", switch_prob}})
        if (!(v >= 0.0f && v <= 1.0f))
            throw ConfigError(std::string("MixupConfig::") + name + " must be in [0, 1], got " + std::to_string(v));
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        throw ConfigError("MixupConfig::label_smoothing must be in [0, 1), got " + std::to_string(label_smoothing));
}

CutBox cutmix_box(double lam, int cy, int cx, int height, int width) {
    const double ratio = std::sqrt(1.0 - lam);
    const int cut_h = static_cast<int>(height * ratio), cut_w = static_cast<int>(width * ratio);
    CutBox b;
    b.top = std::clamp(cy - cut_h / 2, 0, height);
    b.bottom = std::clamp(cy + cut_h / 2, 0, height);
    b.left = std::clamp(cx - cut_w / 2, 0, width);
    b.right = std::clamp(cx + cut_w / 2, 0, width);
    return b;
}

MixDraw draw_mix(const MixupConfig& cfg, uint64_t seed, int height, int width) {
    std::mt19937_64 rng(seed);
    MixDraw d;
    if (!cfg.enabled() || !(data_detail::uniform01(rng) < cfg.prob)) return d;
    const bool both = cfg.mixup_alpha > 0.0f && cfg.cutmix_alpha > 0.0f;
    d.cutmix = both ? data_detail::uniform01(rng) < cfg.switch_prob : cfg.mixup_alpha <= 0.0f;
    const double alpha = d.cutmix ? cfg.cutmix_alpha : cfg.mixup_alpha;
    d.lam = data_detail::beta(rng, alpha, alpha);
    if (d.cutmix) {
        // np.random.randint(0, size): the centre anywhere in the image, the box clipped around it.
        const int cy = static_cast<int>(data_detail::below(rng, uint64_t(height)));
        const int cx = static_cast<int>(data_detail::below(rng, uint64_t(width)));
        d.box = cutmix_box(d.lam, cy, cx, height, width);
        if (cfg.correct_lam) d.lam = 1.0 - double(d.box.area()) / (double(height) * width);
    }
    return d;
}

void mix_batch(const MixDraw& d, float* x, int n, int channels, int height, int width) {
    if (d.lam == 1.0) return;  // timm returns before touching the batch
    const size_t img = size_t(height) * width * channels;
    std::vector<float> mirrors(size_t(n) * img);
    for (int i = 0; i < n; ++i) std::copy_n(x + size_t(n - 1 - i) * img, img, mirrors.data() + size_t(i) * img);
    mix_slice(d, x, mirrors.data(), BatchSlice{0, n, n}, channels, height, width);
}

void mix_slice(const MixDraw& d, float* x, const float* partners, const BatchSlice& slice, int channels, int height,
               int width) {
    if (d.lam == 1.0) return;
    const size_t plane = size_t(height) * width, img = plane * channels;
    const float lam = static_cast<float>(d.lam), rest = static_cast<float>(1.0 - d.lam);
    for (int j = 0; j < slice.count; ++j) {
        const int i = slice.first + j;
        if (i == slice.total - 1 - i) continue;  // the middle of an odd batch
        float* a = x + size_t(j) * img;
        const float* b = partners + size_t(j) * img;
        if (d.cutmix) {
            for (int c = 0; c < channels; ++c)
                for (int y = d.box.top; y < d.box.bottom; ++y)
                    for (int xx = d.box.left; xx < d.box.right; ++xx) {
                        const size_t k = c * plane + size_t(y) * width + xx;
                        a[k] = b[k];
                    }
        } else {
            for (size_t k = 0; k < img; ++k) a[k] = lam * a[k] + rest * b[k];
        }
    }
}

void mix_targets(const int* labels, int n, int classes, double lam, float smoothing, float* targets) {
    const std::vector<int> mirrors(std::make_reverse_iterator(labels + n), std::make_reverse_iterator(labels));
    mix_targets(labels, mirrors.data(), n, classes, lam, smoothing, targets);
}

void mix_targets(const int* labels, const int* partner_labels, int n, int classes, double lam, float smoothing,
                 float* targets) {
    const double off = double(smoothing) / classes, on = 1.0 - smoothing + off;
    std::fill(targets, targets + size_t(n) * classes, static_cast<float>(off));
    for (int i = 0; i < n; ++i) {
        const int a = labels[i], b = partner_labels[i];
        for (int y : {a, b})
            if (y < 0 || y >= classes)
                throw ConfigError("label " + std::to_string(y) + " out of range [0, " + std::to_string(classes) + ")");
        float* t = targets + size_t(i) * classes;
        // y1 * lam + y2 * (1 - lam): each label adds its share of (on - off) on top of off.
        t[a] = static_cast<float>(t[a] + lam * (on - off));
        t[b] = static_cast<float>(t[b] + (1.0 - lam) * (on - off));
    }
}

}  // namespace vit
