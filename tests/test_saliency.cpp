// Saliency methods beyond rollout (saliency.hpp, explain.hpp): Chefer et al.'s relevance rule and the
// last block's attention against their definitions computed in double, occlusion against one
// double-precision reference forward per occluded patch, the product against its two factors, and the
// baselines a removed patch becomes.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "reference_vit.hpp"
#include "vit/vit.hpp"

namespace {

const std::string kModel = std::string(VIT_TEST_DATA) + "/timm-vit-small32";

std::vector<vit::Tensor> random_maps(int blocks, int64_t N, int64_t H, int64_t T, unsigned seed, bool probabilities) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<vit::Tensor> out;
    for (int b = 0; b < blocks; ++b) {
        vit::Tensor t({N, H, T, T});
        for (float& v : t.data) v = probabilities ? u(rng) : g(rng);
        out.push_back(std::move(t));
    }
    return out;
}

// R = I; per block R <- R + Ā R, Ā = mean_h max(0, G ⊙ A), as full T x T matrices in double.
std::vector<double> chefer_reference(const std::vector<vit::Tensor>& attn, const std::vector<vit::Tensor>& grad,
                                     int64_t n, int64_t H, int64_t T) {
    std::vector<double> R(size_t(T * T), 0.0), abar(size_t(T * T)), next(size_t(T * T));
    for (int64_t i = 0; i < T; ++i) R[size_t(i * T + i)] = 1.0;
    for (size_t b = 0; b < attn.size(); ++b) {
        for (int64_t i = 0; i < T * T; ++i) {
            double s = 0;
            for (int64_t h = 0; h < H; ++h) {
                const size_t at = size_t((n * H + h) * T * T + i);
                s += std::max(0.0, double(attn[b].data[at]) * double(grad[b].data[at]));
            }
            abar[size_t(i)] = s / double(H);
        }
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) {
                double s = R[size_t(i * T + j)];
                for (int64_t k = 0; k < T; ++k) s += abar[size_t(i * T + k)] * R[size_t(k * T + j)];
                next[size_t(i * T + j)] = s;
            }
        R.swap(next);
    }
    return R;
}

TEST(Saliency, CheferRelevanceIsTheClassRowOfTheAccumulatedRelevance) {
    const int64_t N = 2, H = 3, T = 6;
    const auto attn = random_maps(3, N, H, T, 1, true), grad = random_maps(3, N, H, T, 2, false);
    const vit::PrefixTokens prefix{2, true};  // class and distillation tokens: patches are columns 2..5
    const vit::Tensor got = vit::chefer_relevance(attn, grad, prefix, vit::RolloutOptions{});
    ASSERT_EQ(got.shape, (vit::Shape{N, T - 2}));
    for (int64_t n = 0; n < N; ++n) {
        const std::vector<double> R = chefer_reference(attn, grad, n, H, T);
        for (int64_t j = 0; j < T - 2; ++j) EXPECT_NEAR(got.data[size_t(n * (T - 2) + j)], R[size_t(2 + j)], 1e-5);
    }
}

TEST(Saliency, CheferRelevanceWithoutAClassTokenIsTheMeanOfTheRows) {
    const int64_t N = 1, H = 2, T = 5;
    const auto attn = random_maps(2, N, H, T, 3, true), grad = random_maps(2, N, H, T, 4, false);
    const vit::Tensor got = vit::chefer_relevance(attn, grad, vit::PrefixTokens{0, false}, vit::RolloutOptions{});
    const std::vector<double> R = chefer_reference(attn, grad, 0, H, T);
    for (int64_t j = 0; j < T; ++j) {
        double mean = 0;
        for (int64_t i = 0; i < T; ++i) mean += R[size_t(i * T + j)] / double(T);
        EXPECT_NEAR(got.data[size_t(j)], mean, 1e-5);
    }
}

TEST(Saliency, LastBlockAttentionIsTheClassRowOfTheLastBlock) {
    const int64_t N = 2, H = 3, T = 5;
    const auto attn = random_maps(2, N, H, T, 5, true);
    const vit::Tensor mean = vit::last_block_attention(attn, vit::PrefixTokens{1, true});
    const vit::Tensor head2 = vit::last_block_attention(attn, vit::PrefixTokens{1, true}, 2);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < T - 1; ++j) {
            double s = 0;
            for (int64_t h = 0; h < H; ++h) s += attn[1].data[size_t(((n * H + h) * T + 0) * T + 1 + j)];
            EXPECT_NEAR(mean.data[size_t(n * (T - 1) + j)], s / H, 1e-6);
            EXPECT_FLOAT_EQ(head2.data[size_t(n * (T - 1) + j)], attn[1].data[size_t(((n * H + 2) * T) * T + 1 + j)]);
        }
    EXPECT_THROW(vit::last_block_attention(attn, vit::PrefixTokens{1, true}, 3), vit::ConfigError);
}

std::vector<double> reference_probs(const vit::Model& model, const float* img) {
    const vit::reference::Mat logits = vit::reference::forward(model, img);
    const double mx = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double sum = 0;
    for (size_t k = 0; k < p.size(); ++k) sum += p[k] = std::exp(logits[k] - mx);
    for (double& v : p) v /= sum;
    return p;
}

// Two images in batches of three (so one batch holds patches of both), each patch replaced by the
// image's own mean colour, checked against one double-precision forward per occluded image.
TEST(Saliency, OcclusionIsTheFallOfTheClassProbabilityPerPatch) {
    const vit::Model model(vit::load_checkpoint(kModel));
    const vit::ViTConfig& c = model.config();
    const size_t floats = size_t(c.in_chans) * c.img_h * c.img_w;
    std::vector<float> x(2 * floats);
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : x) v = d(rng);
    const std::vector<int> classes = {3, 8};
    vit::SaliencySpec spec;
    spec.method = vit::SaliencyMethod::Occlusion;
    vit::SaliencyMaps maps(model, 3, {spec}, vit::Baseline::Mean);
    // compute() takes at most a batch of images; the pairs (image, patch) are what it splits.
    const vit::Tensor got = maps.compute(x.data(), 2, classes)[0];
    const int P = c.num_patches(), gw = c.grid_w(), ps = c.patch_size;
    std::vector<float> blank(2 * floats);
    vit::baseline_images(c, vit::Baseline::Mean, x.data(), 2, blank.data());
    for (int i = 0; i < 2; ++i) {
        const float* img = x.data() + size_t(i) * floats;
        const double p0 = reference_probs(model, img)[size_t(classes[size_t(i)])];
        for (int j = 0; j < P; j += 7) {  // every 7th patch keeps the double forward passes few
            std::vector<float> occluded(img, img + floats);
            for (int ch = 0; ch < c.in_chans; ++ch)
                for (int y = j / gw * ps; y < j / gw * ps + ps; ++y)
                    for (int xx = j % gw * ps; xx < j % gw * ps + ps; ++xx) {
                        const size_t off = (size_t(ch) * c.img_h + y) * c.img_w + xx;
                        occluded[off] = blank[size_t(i) * floats + off];
                    }
            const double expected = p0 - reference_probs(model, occluded.data())[size_t(classes[size_t(i)])];
            EXPECT_NEAR(got.data[size_t(i * P + j)], expected, 2e-5) << "image " << i << " patch " << j;
        }
    }
}

// RISE with four masks over a zero baseline, batch 3 (a batch mixes the images' masks), against
// Σ_k p(c | x ⊙ M_k) M̄_k / (S · keep) with the probabilities from the double-precision forward.
TEST(Saliency, RiseIsTheMaskAverageWeightedByTheClassProbability) {
    const vit::Model model(vit::load_checkpoint(kModel));
    const vit::ViTConfig& c = model.config();
    const size_t plane = size_t(c.img_h) * c.img_w, floats = plane * c.in_chans;
    std::vector<float> x(2 * floats);
    std::mt19937 rng(9);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : x) v = d(rng);
    vit::SaliencySpec spec;
    spec.method = vit::SaliencyMethod::Rise;
    spec.rise.samples = 4;
    spec.rise.seed = 11;
    vit::SaliencyMaps maps(model, 3, {spec});
    const std::vector<int> classes = {2, 6};
    const vit::Tensor got = maps.compute(x.data(), 2, classes)[0];

    const vit::Tensor masks = vit::rise_masks(c, spec.rise);
    ASSERT_EQ(masks.shape, (vit::Shape{4, c.img_h, c.img_w}));
    double kept = 0;
    for (float v : masks.data) {
        ASSERT_GE(v, 0.0f);
        ASSERT_LE(v, 1.0f);
        kept += v;
    }
    EXPECT_GT(kept / double(masks.data.size()), 0.15) << "about half of each mask is kept";
    EXPECT_LT(kept / double(masks.data.size()), 0.85);
    const int P = c.num_patches(), gw = c.grid_w(), ps = c.patch_size;
    for (int i = 0; i < 2; ++i) {
        std::vector<double> expected(static_cast<size_t>(P), 0.0);
        for (int k = 0; k < 4; ++k) {
            const float* m = masks.ptr() + size_t(k) * plane;
            std::vector<float> masked(x.begin() + long(size_t(i) * floats), x.begin() + long(size_t(i + 1) * floats));
            for (size_t p = 0; p < floats; ++p) masked[p] *= m[p % plane];
            const double prob = reference_probs(model, masked.data())[size_t(classes[size_t(i)])];
            for (int j = 0; j < P; ++j) {
                double mean = 0;
                for (int y = j / gw * ps; y < j / gw * ps + ps; ++y)
                    for (int xx = j % gw * ps; xx < j % gw * ps + ps; ++xx) mean += m[size_t(y) * c.img_w + xx];
                expected[size_t(j)] += prob * mean / (ps * ps) / (4 * 0.5);
            }
        }
        for (int j = 0; j < P; ++j) EXPECT_NEAR(got.data[size_t(i * P + j)], expected[size_t(j)], 2e-5) << i << " " << j;
    }
}

TEST(Saliency, ProductIsTheProductOfTheFactorsScaledToUnitRange) {
    const vit::Model model(vit::load_checkpoint(kModel));
    const vit::ViTConfig& c = model.config();
    std::vector<float> x(size_t(2) * c.in_chans * c.img_h * c.img_w);
    std::mt19937 rng(8);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : x) v = d(rng);
    vit::SaliencySpec grad, occ, product;
    grad.method = vit::SaliencyMethod::GradRollout;
    occ.method = vit::SaliencyMethod::Occlusion;
    product.method = vit::SaliencyMethod::GradRolloutOcclusion;
    grad.rollout.discard_ratio = product.rollout.discard_ratio = 0.9f;
    vit::SaliencyMaps maps(model, 2, {grad, occ, product});
    const std::vector<vit::Tensor> m = maps.compute(x.data(), 2, {1, 4});
    ASSERT_EQ(m.size(), 3u);
    const vit::Tensor a = vit::minmax_rows(m[0]), b = vit::minmax_rows(m[1]);
    float top = 0;
    for (size_t i = 0; i < m[2].data.size(); ++i) {
        EXPECT_FLOAT_EQ(m[2].data[i], a.data[i] * b.data[i]);
        top = std::max(top, m[2].data[i]);
    }
    EXPECT_GT(top, 0.0f) << "the factors must overlap somewhere";
    // The shared capture is the one gradient rollout needs: attention and gradients of every block.
    EXPECT_EQ(maps.capture().grad.size(), size_t(c.depth));
}

TEST(Saliency, MinmaxScalesEachRowAndZeroesConstantRows) {
    const vit::Tensor t({2, 3}, std::vector<float>{1, 3, 2, 5, 5, 5});
    const vit::Tensor s = vit::minmax_rows(t);
    EXPECT_EQ(s.data, (std::vector<float>{0, 1, 0.5f, 0, 0, 0}));
}

TEST(Saliency, MethodsThatExplainAClassRefuseAModelWithoutAClassifier) {
    vit::Checkpoint ck = vit::load_checkpoint(kModel);
    vit::replace_head(ck, 0, 0);
    ck.labels.clear();  // replace_head leaves the labels to the caller
    const vit::Model features(ck);
    vit::SaliencySpec spec;
    spec.method = vit::SaliencyMethod::Occlusion;
    EXPECT_THROW(vit::SaliencyMaps(features, 2, {spec}), vit::ConfigError);
    spec.method = vit::SaliencyMethod::LastAttention;
    vit::SaliencyMaps maps(features, 1, {spec});
    const vit::ViTConfig& c = features.config();
    const std::vector<float> x(size_t(c.in_chans) * c.img_h * c.img_w, 0.25f);
    const vit::Tensor m = maps.compute(x.data(), 1, {})[0];
    EXPECT_EQ(m.shape, (vit::Shape{1, c.num_patches()}));
}

TEST(PatchBaseline, ZeroMeanAndBlurAreWhatTheirNamesSay) {
    vit::ViTConfig c;
    c.img_h = c.img_w = 16;
    c.patch_size = 4;
    c.in_chans = 2;
    std::vector<float> x(2 * 16 * 16);
    for (size_t i = 0; i < 256; ++i) x[i] = float(i % 16);  // channel 0: a ramp, mean 7.5
    std::fill(x.begin() + 256, x.end(), 3.0f);              // channel 1: constant
    std::vector<float> out(x.size());
    vit::baseline_images(c, vit::Baseline::Zero, x.data(), 1, out.data());
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }));
    vit::baseline_images(c, vit::Baseline::Mean, x.data(), 1, out.data());
    EXPECT_FLOAT_EQ(out[0], 7.5f);
    EXPECT_FLOAT_EQ(out[255], 7.5f);
    EXPECT_FLOAT_EQ(out[256], 3.0f);
    vit::baseline_images(c, vit::Baseline::Blur, x.data(), 1, out.data());
    // A constant channel stays constant; the ramp keeps its mean in the middle and is flattened.
    for (size_t i = 256; i < out.size(); ++i) EXPECT_NEAR(out[i], 3.0f, 1e-5);
    EXPECT_NEAR(out[8 * 16 + 7] + out[8 * 16 + 8], 15.0f, 0.5f);
    EXPECT_GT(out[0], x[0] + 1.0f) << "blur pulls the ramp's dark edge towards its mean";
}

}  // namespace
