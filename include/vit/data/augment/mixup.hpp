// Mixup and CutMix over a batch, as timm's Mixup class in its default 'batch' mode
// (timm/data/mixup.py): one decision per batch, image i mixed with image n-1-i (the batch flipped).
//
//   with probability prob:     lam ~ Beta(alpha, alpha), of cutmix with probability switch_prob when
//                              both are on, else of whichever is on
//   mixup:                     x_i = lam x_i + (1 - lam) x_{n-1-i}
//   cutmix:                    a box of side ratio sqrt(1 - lam) centred uniformly in the image and
//                              clipped to it is pasted from x_{n-1-i}; lam becomes 1 - box area / image
//                              area (correct_lam), the share of the image that is still x_i
//   targets:                   lam onehot_s(y_i) + (1 - lam) onehot_s(y_{n-1-i}), where onehot_s is
//                              smoothing / K off the label and 1 - smoothing + smoothing / K on it
//
// The draws come from a generator seeded by the caller (the loader: a hash of seed, epoch and batch),
// so a resumed run mixes exactly as an uninterrupted one.
#pragma once
#include <cstdint>

#include "vit/distributed/communicator.hpp"

namespace vit {

struct MixupConfig {
    float mixup_alpha = 0.0f;   // mixup is on when > 0 (timm's --mixup)
    float cutmix_alpha = 0.0f;  // cutmix is on when > 0 (--cutmix)
    float prob = 1.0f;          // probability that a batch is mixed at all (--mixup-prob)
    float switch_prob = 0.5f;   // with both on: probability of cutmix rather than mixup (--mixup-switch-prob)
    bool correct_lam = true;    // lam from the clipped box's area rather than the drawn value
    float label_smoothing = 0.1f;  // fit sets it from OptimConfig::label_smoothing

    bool enabled() const { return mixup_alpha > 0.0f || cutmix_alpha > 0.0f; }
    // Throws ConfigError naming the field unless the alphas are >= 0 and the probabilities in [0, 1].
    void validate() const;
};

// Rows [top, bottom) and columns [left, right) of the image.
struct CutBox {
    int top = 0, bottom = 0, left = 0, right = 0;
    int area() const { return (bottom - top) * (right - left); }
};

// What one batch gets: lam = 1 leaves it unmixed.
struct MixDraw {
    double lam = 1.0;
    bool cutmix = false;
    CutBox box;  // with cutmix
};

// timm's rand_bbox for a box centre (cy, cx): cut = int(size * sqrt(1 - lam)) per side, edges
// centre -+ cut / 2 clipped to the image.
CutBox cutmix_box(double lam, int cy, int cx, int height, int width);

// The batch's decision from a generator seeded by `seed` (timm's _params_per_batch, then
// cutmix_bbox_and_lam with the centre drawn uniformly over the image).
MixDraw draw_mix(const MixupConfig& cfg, uint64_t seed, int height, int width);

// Mixes x (n, C, H, W) in place as d says, each image with its mirror in the batch.
void mix_batch(const MixDraw& d, float* x, int n, int channels, int height, int width);

// The same for the images [first, first + count) of an n-image batch that one process of several
// holds (slice): x (count images) in place, partners (count images) the originals of their mirrors,
// partner j being image n-1-(first+j) of the batch. The middle image of an odd batch, its own mirror,
// stays as it is. Mixing every slice of a batch this way gives the rows mix_batch gives the batch.
void mix_slice(const MixDraw& d, float* x, const float* partners, const BatchSlice& slice, int channels, int height,
               int width);

// The soft targets (n, classes) of a batch mixed with weight lam (timm's mixup_target). Throws
// ConfigError for a label out of range.
void mix_targets(const int* labels, int n, int classes, double lam, float smoothing, float* targets);
// The same for n rows whose mirrors' labels are partner_labels (a slice of a batch, as mix_slice).
void mix_targets(const int* labels, const int* partner_labels, int n, int classes, double lam, float smoothing,
                 float* targets);

}  // namespace vit
