// Deletion and insertion curves: a model whose output ignores the image, where every figure follows
// by hand, and a small timm model checked against a naive per-image computation on the
// double-precision reference forward.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "reference_vit.hpp"
#include "vit/vit.hpp"

namespace {

// timm's VisionTransformer at 32x32 in 4x4 patches, depth 2, 10 classes: an 8x8 grid of P = 64
// patches, so 4 patches per curve step and 17 curve points.
const std::string kModel = std::string(VIT_TEST_DATA) + "/timm-vit-small32";

std::vector<float> random_images(const vit::ViTConfig& c, size_t n, unsigned seed) {
    std::vector<float> x(n * c.in_chans * c.img_h * c.img_w);
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : x) v = d(rng);
    return x;
}

const vit::MapScore& score(const vit::FaithfulnessReport& r, const std::string& name) {
    for (const auto& m : r.maps)
        if (m.name == name) return m;
    ADD_FAILURE() << "no map " << name;
    return r.maps.front();
}

// Every weight zero: every token is 0 after each LayerNorm (zero scale and shift), so the logits are
// the zero head bias and every curve stays at p = 1/K: both areas are 1/K. The attention is uniform,
// so the rollout maps are flat (central mass 16/64); the gradients are 0, so gradient rollout is the
// identity's row 0, with no mass on any patch (central mass 0). The centre prior is separable: along
// one axis of 8 patches the centres lie ±0.25, ±0.75, ±1.25 and ±1.75 quarters of the grid from the
// middle, the middle four of them (±0.25, ±0.75) hold their share of the weights exp(-d²/2), and the
// grid's middle 4x4 holds its square.
TEST(Faithfulness, ConstantModelByHand) {
    vit::Model model(vit::load_checkpoint(kModel));
    std::fill(model.params().data(), model.params().data() + model.params().size(), 0.0f);
    const std::vector<float> x = random_images(model.config(), 3, 1);
    vit::FaithfulnessOptions opts;
    opts.batch = 2;
    const vit::FaithfulnessReport r = vit::evaluate_faithfulness(model, x.data(), 3, opts);
    EXPECT_EQ(r.images, 3u);
    EXPECT_EQ(r.step, 4);
    ASSERT_EQ(r.maps.size(), 5u);
    for (const auto& m : r.maps) {
        EXPECT_NEAR(m.deletion, 0.1, 1e-6) << m.name;
        EXPECT_NEAR(m.insertion, 0.1, 1e-6) << m.name;
    }
    auto w = [](double d) { return std::exp(-d * d / 2); };
    const double middle = (w(0.25) + w(0.75)) / (w(0.25) + w(0.75) + w(1.25) + w(1.75));
    EXPECT_NEAR(score(r, "centre prior").central, middle * middle, 1e-6);
    EXPECT_NEAR(score(r, "rollout mean d0").central, 0.25, 1e-6);
    EXPECT_NEAR(score(r, "gradient rollout d0.9").central, 0.0, 1e-12);
}

// p(class) of one image by the reference forward, softmax in double.
double reference_prob(const vit::Model& model, const float* img, int cls) {
    const std::vector<double> z = vit::reference::forward(model, img);
    const double m = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (double v : z) sum += std::exp(v - m);
    return std::exp(z[size_t(cls)] - m) / sum;
}

// The areas of one image under one map, computed point by point: rank the patches (ties in patch
// order), build the image with the first k of them zeroed (deletion) or with only them kept
// (insertion) for k = 0, 4, 8, ..., P, and integrate by the trapezoid rule over k / P.
void naive_areas(const vit::Model& model, const float* img, const float* map, double& deletion, double& insertion) {
    const vit::ViTConfig& c = model.config();
    const int P = c.num_patches(), ps = c.patch_size, step = 4;
    const size_t floats = size_t(c.in_chans) * c.img_h * c.img_w;
    const std::vector<double> intact = vit::reference::forward(model, img);
    const int cls = static_cast<int>(std::max_element(intact.begin(), intact.end()) - intact.begin());
    std::vector<int> order(static_cast<size_t>(P));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return map[a] > map[b]; });
    std::vector<double> del, ins;
    for (int k = 0; k <= P; k += step) {
        std::vector<char> chosen(static_cast<size_t>(P), 0);
        for (int r = 0; r < k; ++r) chosen[size_t(order[size_t(r)])] = 1;
        std::vector<float> d(img, img + floats), in(floats, 0.0f);
        for (int ch = 0; ch < c.in_chans; ++ch)
            for (int y = 0; y < c.img_h; ++y)
                for (int x = 0; x < c.img_w; ++x) {
                    const int patch = (y / ps) * c.grid_w() + x / ps;
                    const size_t off = (size_t(ch) * c.img_h + y) * c.img_w + x;
                    if (chosen[size_t(patch)]) {
                        d[off] = 0.0f;
                        in[off] = img[off];
                    }
                }
        del.push_back(reference_prob(model, d.data(), cls));
        ins.push_back(reference_prob(model, in.data(), cls));
    }
    deletion = insertion = 0;
    const double width = double(step) / P;
    for (size_t k = 1; k < del.size(); ++k) {
        deletion += (del[k] + del[k - 1]) / 2 * width;
        insertion += (ins[k] + ins[k - 1]) / 2 * width;
    }
}

// The fixture's model on random images, two of three picked by the limit, in batches of one to cover
// the batching: the library's means against the naive ones for the maps the test can rebuild itself.
TEST(Faithfulness, MatchesNaiveComputation) {
    const vit::Model model(vit::load_checkpoint(kModel));
    const vit::ViTConfig& c = model.config();
    const size_t total = 3;
    const std::vector<float> x = random_images(c, total, 2);
    vit::FaithfulnessOptions opts;
    opts.limit = 2;  // images 0 and 1 (i * 3 / 2)
    opts.batch = 1;
    const vit::FaithfulnessReport r = vit::evaluate_faithfulness(model, x.data(), total, opts);
    ASSERT_EQ(r.images, 2u);

    const int P = c.num_patches(), g = c.grid_w();
    const size_t floats = size_t(c.in_chans) * c.img_h * c.img_w;
    std::vector<float> centre(static_cast<size_t>(P));
    for (int j = 0; j < P; ++j) {
        const double dy = (j / g + 0.5 - g / 2.0) / (g / 4.0), dx = (j % g + 0.5 - g / 2.0) / (g / 4.0);
        centre[size_t(j)] = static_cast<float>(std::exp(-(dx * dx + dy * dy) / 2));
    }
    double del_centre = 0, ins_centre = 0, del_rollout = 0, ins_rollout = 0;
    for (size_t i = 0; i < 2; ++i) {
        const float* img = x.data() + i * floats;
        double d = 0, in = 0;
        naive_areas(model, img, centre.data(), d, in);
        del_centre += d / 2;
        ins_centre += in / 2;
        const vit::Tensor xt({1, c.in_chans, c.img_h, c.img_w}, std::vector<float>(img, img + floats));
        const vit::AttentionCapture cap = vit::capture_attention(model, xt, {}, 1, false);
        const vit::Tensor map = vit::attention_rollout(cap.attn, vit::prefix_tokens(c), vit::RolloutOptions{});
        naive_areas(model, img, map.ptr(), d, in);
        del_rollout += d / 2;
        ins_rollout += in / 2;
    }
    EXPECT_NEAR(score(r, "centre prior").deletion, del_centre, 1e-4);
    EXPECT_NEAR(score(r, "centre prior").insertion, ins_centre, 1e-4);
    EXPECT_NEAR(score(r, "rollout mean d0").deletion, del_rollout, 1e-4);
    EXPECT_NEAR(score(r, "rollout mean d0").insertion, ins_rollout, 1e-4);
    // The curves must depend on the map: deleting the centre first and deleting by rollout differ.
    EXPECT_GT(std::fabs(del_centre - del_rollout) + std::fabs(ins_centre - ins_rollout), 1e-3);
}

// Three copies of one image: every map that depends only on the image scores the same on each, so its
// standard error is 0; the random map is seeded per image index, so its areas differ.
TEST(Faithfulness, StandardErrorIsZeroForIdenticalImagesAndPositiveForTheRandomMap) {
    const vit::Model model(vit::load_checkpoint(kModel));
    const size_t floats = size_t(model.config().in_chans) * model.config().img_h * model.config().img_w;
    const std::vector<float> one = random_images(model.config(), 1, 3);
    std::vector<float> x;
    for (int i = 0; i < 3; ++i) x.insert(x.end(), one.begin(), one.begin() + long(floats));
    vit::FaithfulnessOptions opts;
    opts.batch = 2;
    const vit::FaithfulnessReport r = vit::evaluate_faithfulness(model, x.data(), 3, opts);
    for (const char* name : {"centre prior", "rollout mean d0", "gradient rollout d0.9"}) {
        EXPECT_NEAR(score(r, name).deletion_se, 0.0, 1e-6) << name;
        EXPECT_NEAR(score(r, name).insertion_se, 0.0, 1e-6) << name;
    }
    EXPECT_GT(score(r, "random (seed 0)").deletion_se + score(r, "random (seed 0)").insertion_se, 1e-4);
}

// Every method of all_scored_maps() is scored, under each baseline, with areas of probabilities in
// [0, 1]; a blurred baseline changes the curves (the blank end is no longer the mean colour).
TEST(Faithfulness, EveryMethodIsScoredUnderEveryBaseline) {
    const vit::Model model(vit::load_checkpoint(kModel));
    const std::vector<float> x = random_images(model.config(), 2, 4);
    vit::FaithfulnessOptions opts;
    opts.batch = 2;
    opts.maps = vit::all_scored_maps();
    std::vector<double> insertion_of_occlusion;
    for (vit::Baseline b : {vit::Baseline::Zero, vit::Baseline::Mean, vit::Baseline::Blur}) {
        opts.baseline = b;
        const vit::FaithfulnessReport r = vit::evaluate_faithfulness(model, x.data(), 2, opts);
        ASSERT_EQ(r.maps.size(), opts.maps.size());
        for (size_t m = 0; m < r.maps.size(); ++m) {
            EXPECT_EQ(r.maps[m].name, vit::scored_map_name(opts.maps[m], 0));
            EXPECT_GE(r.maps[m].deletion, 0.0);
            EXPECT_LE(r.maps[m].deletion, 1.0);
            EXPECT_GE(r.maps[m].insertion, 0.0);
            EXPECT_LE(r.maps[m].insertion, 1.0);
        }
        insertion_of_occlusion.push_back(score(r, "occlusion").insertion);
    }
    EXPECT_GT(std::fabs(insertion_of_occlusion[0] - insertion_of_occlusion[2]), 1e-4);
}

TEST(Faithfulness, RejectsBadArguments) {
    const vit::Model model(vit::load_checkpoint(kModel));
    const std::vector<float> x = random_images(model.config(), 1, 2);
    vit::FaithfulnessOptions opts;
    EXPECT_THROW(vit::evaluate_faithfulness(model, x.data(), 0, opts), vit::ConfigError);
    opts.batch = 0;
    EXPECT_THROW(vit::evaluate_faithfulness(model, x.data(), 1, opts), vit::ConfigError);
}

}  // namespace
