// How faithful saliency maps are to the model, by deletion and insertion curves (Petsiuk et al. 2018,
// RISE).
//
// The P patches are ranked by the map, highest first. Deletion zeroes them in the image `step` at a
// time and follows p(c), the probability of the class c predicted for the intact image: a faithful
// map makes it fall fast, so the area under the curve is small. Insertion starts from the all-zero
// image and copies the patches in, in the same order: p(c) should rise fast, a large area. A curve has
// a point at each fraction min(s·step, P) / P, s = 0, 1, ..., ceil(P / step), of the patches removed
// or inserted, and its area over [0, 1] is taken by the trapezoid rule. A removed patch becomes the
// baseline's pixels (patch_baseline.hpp; by default zero, the mean colour of normalised images), and
// insertion starts from the whole baseline image.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vit/model/model.hpp"
#include "vit/explain/patch_baseline.hpp"
#include "vit/explain/saliency.hpp"

namespace vit {

// A map to score: one of the two reference maps that know nothing of the model, or a saliency method
// (for the class predicted for the intact image).
//   Random       uniform in [0, 1) per patch, seeded per image (the floor every method must beat);
//   CentrePrior  a Gaussian over the patch grid, sigma a quarter of the grid (objects sit in the middle).
struct ScoredMap {
    enum class Kind { Random, CentrePrior, Saliency };
    Kind kind = Kind::Saliency;
    SaliencySpec saliency;
};

// random, centre prior, attention rollout (mean of the heads, no discard), attention rollout (max of
// the heads, discard 0.9) and gradient rollout (discard 0.9).
std::vector<ScoredMap> default_scored_maps();
// The defaults, then Chefer et al. 2021, last-block attention, occlusion, gradient rollout (d0.9) x
// occlusion and RISE (500 masks).
std::vector<ScoredMap> all_scored_maps();
// The short names of all_scored_maps(), in its order, as the program's --methods takes them: random,
// centre, rollout, rollout-max, grad-rollout, chefer2021, chefer2021-lrp, attnlrp, last-attention,
// occlusion, grad-rollout-x-occlusion, rise.
std::vector<std::string> scored_map_keys();
// The map of all_scored_maps() with that short name; ConfigError listing the names otherwise.
ScoredMap parse_scored_map(const std::string& key);
// Its name in reports: "random (seed 0)", "centre prior", or the saliency spec's describe().
std::string scored_map_name(const ScoredMap& m, uint64_t seed);

struct FaithfulnessOptions {
    size_t limit = 0;   // 0: every image; otherwise this many, spread evenly over the set
    int batch = 64;     // images per forward pass
    uint64_t seed = 0;  // of the random baseline map
    Baseline baseline = Baseline::Zero;  // what a removed patch becomes (also for occlusion maps)
    std::vector<ScoredMap> maps;         // empty: default_scored_maps()
    std::function<void(size_t done, size_t total)> progress;  // after every batch, images scored so far
};

// One kind of map, its figures averaged over the images.
struct MapScore {
    std::string name;
    double deletion = 0;   // area under the deletion curve (lower is better), mean over the images
    double insertion = 0;  // area under the insertion curve (higher is better), mean over the images
    double deletion_se = 0, insertion_se = 0;  // standard errors of those means: sd / sqrt(images)
    double central = 0;    // share of the map's positive mass on the patches whose centres lie in the
                           // middle half of the rows and of the columns
};

struct FaithfulnessReport {
    std::vector<MapScore> maps;  // in the order of the options' maps
    size_t images = 0;  // how many were evaluated
    int step = 0;       // patches removed or inserted per curve point: max(1, P / 16)
};

// images: `count` normalised images (count, C, H, W) at the model's input size. Throws ConfigError for
// a model without a classifier, no images or a batch below 1.
FaithfulnessReport evaluate_faithfulness(const Model& model, const float* images, size_t count,
                                         const FaithfulnessOptions& opts);

}  // namespace vit
