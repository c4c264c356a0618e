// Attention rollout and gradient rollout against the timm fixtures (made with PyTorch, see
// ../shared/fixtures/README.md), hand-worked cases for the discard and normalisation, and models
// without a class token.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference_vit.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;

namespace {

float max_abs(const float* v, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
    return m;
}

// Largest |a - b| over image n's map.
float map_error(const vit::Tensor& a, const vit::Tensor& b, int64_t n) {
    const int64_t P = a.shape[1];
    float e = 0;
    for (int64_t j = 0; j < P; ++j) e = std::max(e, std::fabs(a.data[size_t(n * P + j)] - b.data[size_t(n * P + j)]));
    return e;
}

// Checks every rollout.* and grad_rollout.* tensor of a fixture folder; capture runs in chunks of `batch`.
void check_fixture(const std::string& dir, int batch) {
    const vit::Model model(vit::load_checkpoint(dir));
    const vit::SafeTensors ref = vit::read_safetensors(dir + "/reference.safetensors");
    const vit::Tensor& x = ref.tensors.at("input");
    const int64_t N = x.shape[0], P = model.config().num_patches();
    const vit::AttentionCapture cap = vit::capture_attention(model, x, {}, batch, false);
    ASSERT_TRUE(cap.grad.empty());

    int checked = 0;
    float worst_rollout = 0, worst_grad = 0;
    for (const char* fusion : {"mean", "max", "min"}) {
        for (const auto& [suffix, ratio] : {std::pair<const char*, float>{"d0", 0.0f}, {"d9", 0.9f}}) {
            const std::string key = std::string("rollout.") + fusion + "." + suffix;
            const vit::Tensor& expected = ref.tensors.at(key);
            vit::RolloutOptions o;
            o.fusion = vit::parse_head_fusion(fusion);
            o.discard_ratio = ratio;
            const vit::Tensor got = vit::attention_rollout(cap.attn, vit::PrefixTokens{}, o);
            ASSERT_EQ(got.shape, (vit::Shape{N, P})) << key;
            ASSERT_EQ(got.shape, expected.shape) << key;
            for (int64_t n = 0; n < N; ++n) {
                const float err = map_error(got, expected, n);
                EXPECT_LE(err, 1e-5f) << key << " image " << n;
                worst_rollout = std::max(worst_rollout, err);
            }
            ++checked;
        }
    }
    for (int c : {0, 3}) {
        // Class c for every image: d(sum over the batch of logit_c)/d attention.
        const vit::AttentionCapture g = vit::capture_attention(model, x, std::vector<int>(size_t(N), c), batch, true);
        ASSERT_EQ(g.grad.size(), size_t(model.config().depth));
        for (const auto& [suffix, ratio] : {std::pair<const char*, float>{"", 0.9f}, {".d0", 0.0f}}) {
            const std::string key = "grad_rollout.c" + std::to_string(c) + suffix;
            const vit::Tensor& expected = ref.tensors.at(key);
            vit::RolloutOptions o;
            o.discard_ratio = ratio;
            const vit::Tensor got = vit::gradient_rollout(g.attn, g.grad, vit::PrefixTokens{}, o);
            ASSERT_EQ(got.shape, expected.shape) << key;
            for (int64_t n = 0; n < N; ++n) {
                const float scale = max_abs(expected.ptr() + n * P, size_t(P));
                const float err = map_error(got, expected, n);
                EXPECT_LE(err, 1e-4f * scale) << key << " image " << n << " (largest value " << scale << ")";
                worst_grad = std::max(worst_grad, err / scale);
            }
            ++checked;
        }
    }
    EXPECT_EQ(checked, 10);
    std::cout << dir << ": largest rollout error " << worst_rollout << ", gradient rollout " << worst_grad
              << " of the map's largest value\n";
}

// The definition, written out directly for one image in float as the reference code does it:
// fused, k smallest by a full sort (index 0 skipped), (F + I) / 2, rows / sums, R = A R.
std::vector<float> naive_rollout(const std::vector<std::vector<float>>& fused, int T, float ratio, bool cls) {
    std::vector<double> R(size_t(T * T), 0.0);
    for (int i = 0; i < T; ++i) R[size_t(i * T + i)] = 1.0;
    for (std::vector<float> f : fused) {
        std::vector<int> idx(size_t(T * T));
        for (int i = 0; i < T * T; ++i) idx[size_t(i)] = i;
        std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return f[size_t(a)] < f[size_t(b)]; });
        const int k = static_cast<int>(std::floor(T * T * double(ratio) + 1e-9));
        for (int i = 0; i < k; ++i)
            if (idx[size_t(i)] != 0) f[size_t(idx[size_t(i)])] = 0.0f;
        std::vector<double> A(size_t(T * T));
        for (int i = 0; i < T; ++i) {
            double s = 0;
            for (int j = 0; j < T; ++j) s += (f[size_t(i * T + j)] + (i == j)) / 2.0;
            for (int j = 0; j < T; ++j) A[size_t(i * T + j)] = (f[size_t(i * T + j)] + (i == j)) / 2.0 / s;
        }
        std::vector<double> next(size_t(T * T), 0.0);
        for (int i = 0; i < T; ++i)
            for (int j = 0; j < T; ++j)
                for (int k2 = 0; k2 < T; ++k2) next[size_t(i * T + j)] += A[size_t(i * T + k2)] * R[size_t(k2 * T + j)];
        R = next;
    }
    std::vector<float> map;
    if (cls) {
        for (int j = 1; j < T; ++j) map.push_back(float(R[size_t(j)]));
    } else {
        for (int j = 0; j < T; ++j) {
            double s = 0;
            for (int i = 0; i < T; ++i) s += R[size_t(i * T + j)];
            map.push_back(float(s / T));
        }
    }
    return map;
}

vit::Model avg_pool_model() {
    vit::ViTConfig c;
    c.img_h = c.img_w = 16;
    c.patch_size = 4;
    c.embed_dim = 24;
    c.depth = 3;
    c.num_heads = 3;
    c.num_classes = 5;
    c.mlp_ratio = 2.0;
    c.class_token = false;
    c.global_pool = vit::GlobalPool::Avg;
    c.fc_norm = true;
    return vit::reference::random_model(c, 11);
}

vit::Tensor random_input(const vit::ViTConfig& c, int64_t n, unsigned seed) {
    vit::Tensor x({n, c.in_chans, c.img_h, c.img_w});
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : x.data) v = d(rng);
    return x;
}

}  // namespace

TEST(Rollout, MatchesTimmSmall32Fixture) { check_fixture(std::string(VIT_TEST_DATA) + "/timm-vit-small32", 2); }

TEST(Rollout, ChunkedCaptureGivesSameMaps) {
    // One image per chunk: the per-chunk gradient objective must still be each image's own logit.
    check_fixture(std::string(VIT_TEST_DATA) + "/timm-vit-small32", 1);
}

TEST(Rollout, MatchesTimmTinyPatch16_224FromShared) {
    const std::string dir = std::string(VIT_SHARED_DIR) + "/fixtures/timm-vit-tiny-patch16-224";
    if (!fs::exists(dir + "/model.safetensors")) GTEST_SKIP() << "fixture not found at " << dir << " (../shared absent)";
    const vit::SafeTensors ref = vit::read_safetensors(dir + "/reference.safetensors");
    if (!ref.tensors.count("rollout.mean.d0")) GTEST_SKIP() << dir << " has no rollout references";
    check_fixture(dir, 1);
}

TEST(Rollout, DiscardZeroesTheLowestButNeverClsToCls) {
    // One block, one head, T = 3 (class token + 2 patches). Ratio 0.4: floor(9 * 0.4) = 3 entries.
    // The three smallest are flat 0 (0.01, kept: CLS->CLS), 5 (0.02) and 7 (0.03): only two are zeroed.
    const std::vector<float> a = {0.01f, 0.50f, 0.49f,   //
                                  0.30f, 0.68f, 0.02f,   //
                                  0.40f, 0.03f, 0.57f};
    vit::RolloutOptions o;
    o.discard_ratio = 0.4f;
    const vit::Tensor got = vit::attention_rollout({vit::Tensor({1, 1, 3, 3}, a)}, vit::PrefixTokens{}, o);
    // Row 0 is untouched: A row 0 = (0.01 + 1, 0.5, 0.49) / 2 / 1.0 -> map (0.25, 0.245).
    ASSERT_EQ(got.shape, (vit::Shape{1, 2}));
    EXPECT_NEAR(got.data[0], 0.25f, 1e-7);
    EXPECT_NEAR(got.data[1], 0.245f, 1e-7);

    // Two blocks. b's three smallest are flat 5 (0.09), 3 (0.12) and 2 (0.17), all zeroed. By hand,
    // A1 row 1 = (0.30, 1.68, 0) / 1.98, A2 row 0 = (1.61, 0.22, 0) / 1.83, and R row 0 = A2 row 0 A1
    // = (0.4625046, 0.3219490, 0.2155464).
    const std::vector<float> b = {0.61f, 0.22f, 0.17f, 0.12f, 0.79f, 0.09f, 0.26f, 0.24f, 0.50f};
    const std::vector<vit::Tensor> attn = {vit::Tensor({1, 1, 3, 3}, a), vit::Tensor({1, 1, 3, 3}, b)};
    const vit::Tensor two = vit::attention_rollout(attn, vit::PrefixTokens{}, o);
    EXPECT_NEAR(two.data[0], 0.3219490f, 1e-6);
    EXPECT_NEAR(two.data[1], 0.2155464f, 1e-6);

    // Blocks 1..1 alone: only b, whose row 0 after the discard is (1.61, 0.22, 0) / 1.83.
    o.first_block = o.last_block = 1;
    const vit::Tensor last = vit::attention_rollout(attn, vit::PrefixTokens{}, o);
    EXPECT_NEAR(last.data[0], 0.22f / 1.83f, 1e-7);
    EXPECT_NEAR(last.data[1], 0.0f, 1e-7);
    // Blocks 0..0: the one-block map of a.
    o.first_block = o.last_block = 0;
    const vit::Tensor first = vit::attention_rollout(attn, vit::PrefixTokens{}, o);
    EXPECT_NEAR(first.data[0], 0.25f, 1e-7);
    EXPECT_NEAR(first.data[1], 0.245f, 1e-7);
}

TEST(Rollout, HeadFusionsAndManyImagesMatchTheDefinition) {
    // 3 images, 2 blocks, 3 heads, T = 6, random attention rows: every fusion and ratio, image by image.
    const int N = 3, H = 3, T = 6;
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<vit::Tensor> attn;
    for (int b = 0; b < 2; ++b) {
        vit::Tensor t({N, H, T, T});
        for (int64_t r = 0; r < N * H * T; ++r) {
            float s = 0;
            for (int j = 0; j < T; ++j) s += (t.data[size_t(r * T + j)] = u(rng));
            for (int j = 0; j < T; ++j) t.data[size_t(r * T + j)] /= s;
        }
        attn.push_back(std::move(t));
    }
    for (auto fusion : {vit::HeadFusion::Mean, vit::HeadFusion::Max, vit::HeadFusion::Min}) {
        for (float ratio : {0.0f, 0.5f, 0.9f}) {
            for (bool cls : {true, false}) {
                vit::RolloutOptions o;
                o.fusion = fusion;
                o.discard_ratio = ratio;
                const vit::Tensor got = vit::attention_rollout(attn, vit::PrefixTokens{cls ? 1 : 0, cls}, o);
                ASSERT_EQ(got.shape, (vit::Shape{N, cls ? T - 1 : T}));
                for (int n = 0; n < N; ++n) {
                    std::vector<std::vector<float>> fused;
                    for (const auto& a : attn) {
                        std::vector<float> f(size_t(T * T));
                        for (int i = 0; i < T * T; ++i) {
                            float v = fusion == vit::HeadFusion::Min ? 2.0f : 0.0f;
                            for (int h = 0; h < H; ++h) {
                                const float x = a.data[size_t((n * H + h) * T * T + i)];
                                v = fusion == vit::HeadFusion::Mean ? v + x / H
                                    : fusion == vit::HeadFusion::Max ? std::max(v, x)
                                                                     : std::min(v, x);
                            }
                            f[size_t(i)] = v;
                        }
                        fused.push_back(f);
                    }
                    const std::vector<float> expected = naive_rollout(fused, T, ratio, cls);
                    for (size_t j = 0; j < expected.size(); ++j)
                        EXPECT_NEAR(got.data[n * expected.size() + j], expected[j], 1e-6)
                            << vit::to_string(fusion) << " r=" << ratio << " cls=" << cls << " image " << n;
                }
            }
        }
    }
}

TEST(Rollout, NoClassTokenModelGivesMeanOfRowsOverAllPatches) {
    const vit::Model model = avg_pool_model();
    const vit::ViTConfig& c = model.config();
    const int64_t N = 2, P = c.num_patches();
    const vit::Tensor x = random_input(c, N, 9);
    const vit::AttentionCapture cap = vit::capture_attention(model, x, {1, 4}, 2, true);
    ASSERT_EQ(cap.attn[0].shape, (vit::Shape{N, c.num_heads, P, P}));
    vit::RolloutOptions o;
    const vit::Tensor r = vit::attention_rollout(cap.attn, vit::prefix_tokens(c), o);
    ASSERT_EQ(r.shape, (vit::Shape{N, P}));
    for (int64_t n = 0; n < N; ++n) {
        // R is row-stochastic, so the mean of its rows sums to 1, and every patch keeps some weight
        // (the identity term).
        double sum = 0;
        for (int64_t j = 0; j < P; ++j) {
            const float v = r.data[size_t(n * P + j)];
            EXPECT_TRUE(std::isfinite(v));
            EXPECT_GT(v, 0.0f);
            sum += v;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
    }
    const vit::Tensor g = vit::gradient_rollout(cap.attn, cap.grad, vit::prefix_tokens(c), o);
    ASSERT_EQ(g.shape, (vit::Shape{N, P}));
    for (float v : g.data) EXPECT_TRUE(std::isfinite(v) && v >= 0.0f);
}

TEST(Rollout, RejectsBadOptionsAndShapes) {
    const std::vector<vit::Tensor> attn = {vit::Tensor({1, 2, 5, 5}, 0.2f), vit::Tensor({1, 2, 5, 5}, 0.2f)};
    vit::RolloutOptions o;
    for (float r : {1.0f, -0.1f, 1.5f, std::nanf("")}) {
        o.discard_ratio = r;
        EXPECT_THROW(vit::attention_rollout(attn, vit::PrefixTokens{}, o), vit::ConfigError) << r;
    }
    o = {};
    o.first_block = 2;
    EXPECT_THROW(vit::attention_rollout(attn, vit::PrefixTokens{}, o), vit::ConfigError);
    o = {};
    o.last_block = 2;
    EXPECT_THROW(vit::attention_rollout(attn, vit::PrefixTokens{}, o), vit::ConfigError);
    o = {};
    EXPECT_THROW(vit::attention_rollout({}, vit::PrefixTokens{}, o), vit::ShapeError);
    EXPECT_THROW(vit::attention_rollout({attn[0], vit::Tensor({1, 2, 4, 4})}, vit::PrefixTokens{}, o), vit::ShapeError);
    EXPECT_THROW(vit::gradient_rollout(attn, {attn[0]}, vit::PrefixTokens{}, o), vit::ShapeError);
    EXPECT_THROW(vit::attention_rollout(attn, vit::PrefixTokens{0, true}, o), vit::ConfigError);
    EXPECT_THROW(vit::parse_head_fusion("avg"), vit::ConfigError);
    EXPECT_EQ(vit::parse_head_fusion("max"), vit::HeadFusion::Max);
    EXPECT_STREQ(vit::to_string(vit::HeadFusion::Min), "min");
}
