// How faithful saliency maps are to the model, by deletion and insertion curves (Petsiuk et al. 2018,
// RISE).
//
// The P patches are ranked by the map, highest first. Deletion zeroes them in the image `step` at a
// time and follows p(c), the probability of the class c predicted for the intact image: a faithful
// map makes it fall fast, so the area under the curve is small. Insertion starts from the all-zero
// image and copies the patches in, in the same order: p(c) should rise fast, a large area. A curve has
// a point at each fraction min(s·step, P) / P, s = 0, 1, ..., ceil(P / step), of the patches removed
// or inserted, and its area over [0, 1] is taken by the trapezoid rule. Zero is the blank because the
// images are normalised: it is the mean colour.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vit/model.hpp"

namespace vit {

struct FaithfulnessOptions {
    size_t limit = 0;   // 0: every image; otherwise this many, spread evenly over the set
    int batch = 64;     // images per forward pass
    uint64_t seed = 0;  // of the random baseline map
    std::function<void(size_t done, size_t total)> progress;  // after every batch, images scored so far
};

// One kind of map, its figures averaged over the images.
struct MapScore {
    std::string name;
    double deletion = 0;   // area under the deletion curve (lower is better)
    double insertion = 0;  // area under the insertion curve (higher is better)
    double central = 0;    // share of the map's positive mass on the patches whose centres lie in the
                           // middle half of the rows and of the columns
};

struct FaithfulnessReport {
    // In this order: a random map (uniform in [0, 1) per patch, seeded per image), the centre prior
    // (a Gaussian over the patch grid, sigma a quarter of the grid), attention rollout (mean of the
    // heads, no discard), attention rollout (max of the heads, discard 0.9) and gradient rollout
    // (discard 0.9) of the predicted class.
    std::vector<MapScore> maps;
    size_t images = 0;  // how many were evaluated
    int step = 0;       // patches removed or inserted per curve point: max(1, P / 16)
};

// images: `count` normalised images (count, C, H, W) at the model's input size. Throws ConfigError for
// a model without a classifier, no images or a batch below 1.
FaithfulnessReport evaluate_faithfulness(const Model& model, const float* images, size_t count,
                                         const FaithfulnessOptions& opts);

}  // namespace vit
