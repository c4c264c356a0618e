// Training step against PyTorch (timm-vit-small32/train_step.safetensors) and finite-difference
// checks of the analytic gradient of every parameter tensor, for every pooling/option path.
#include <gtest/gtest.h>

#include <random>

#include "reference_vit.hpp"
#include "model/layers/dropout.hpp"
#include "vit/vit.hpp"

namespace {

std::vector<int> labels_of(const vit::Tensor& y) {
    std::vector<int> out;
    for (float v : y.data) out.push_back(static_cast<int>(std::lround(v)));
    return out;
}

}  // namespace

TEST(TrainStep, MatchesPyTorchFixture) {
    const std::string dir = std::string(VIT_TEST_DATA) + "/timm-vit-small32";
    vit::Model model(vit::load_checkpoint(dir));
    const vit::SafeTensors fx = vit::read_safetensors(dir + "/train_step.safetensors");
    const vit::Tensor& x = fx.tensors.at("x");
    const std::vector<int> y = labels_of(fx.tensors.at("y"));
    vit::OptimConfig cfg;
    cfg.weight_decay = 0.05f;
    cfg.label_smoothing = 0.1f;
    const float lr = 1e-3f;
    vit::Trainer trainer(model, 8, cfg);
    const vit::StepResult r = trainer.step(x.ptr(), y.data(), 8, lr);
    EXPECT_NEAR(r.loss, fx.tensors.at("loss").data[0], 1e-5);

    float worst_grad = 0, worst_param = 0;
    int near_zero = 0;
    for (const auto& v : model.params().views()) {
        const vit::Tensor& g = fx.tensors.at("grad." + v.name);
        const vit::Tensor& after = fx.tensors.at("after." + v.name);
        ASSERT_EQ(g.shape, v.shape) << v.name;
        float gmax = 0;
        for (float e : g.data) gmax = std::max(gmax, std::fabs(e));
        const float* ours = trainer.grads().get(v.name);
        const float* p = model.params().get(v.name);
        for (size_t i = 0; i < v.numel; ++i) {
            const float dg = std::fabs(ours[i] - g.data[i]);
            ASSERT_LE(dg, 1e-4f * gmax) << "grad." << v.name << "[" << i << "]";
            worst_grad = std::max(worst_grad, dg / gmax);
            const float dp = std::fabs(p[i] - after.data[i]);
            if (std::fabs(g.data[i]) > 1e-6f) {
                ASSERT_LE(dp, 1e-6f) << "after." << v.name << "[" << i << "]";
                worst_param = std::max(worst_param, dp);
            } else {
                ++near_zero;  // Adam's first step there has its sign set by rounding noise
                ASSERT_LE(dp, lr + 1e-6f) << "after." << v.name << "[" << i << "]";
            }
        }
    }
    std::cout << "[ figures  ] train step: |loss diff| " << std::fabs(r.loss - fx.tensors.at("loss").data[0])
              << ", worst grad diff / tensor max " << worst_grad << ", worst param diff " << worst_param << " ("
              << near_zero << " elements with |grad| <= 1e-6)\n";
}

namespace {

// d loss / d theta by central differences on the double-precision reference forward, against the
// Trainer's analytic gradient, for a few elements of every parameter tensor.
void check_gradients(vit::ViTConfig c, int batch) {
    vit::Model model = vit::reference::random_model(c, 5);
    std::mt19937 rng(6);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    const int64_t image = int64_t(c.in_chans) * c.img_h * c.img_w;
    std::vector<float> x(size_t(batch * image));
    for (float& v : x) v = nd(rng) * 3.0f;
    std::vector<int> y(batch);
    for (int i = 0; i < batch; ++i) y[i] = i % c.num_classes;
    const float smoothing = 0.1f;

    vit::OptimConfig oc;
    oc.label_smoothing = smoothing;
    vit::Trainer trainer(model, batch + 1, oc);  // one absent row: it must not contribute
    trainer.compute_gradients(x.data(), y.data(), batch);

    auto loss = [&]() {
        double total = 0;
        for (int i = 0; i < batch; ++i) {
            const auto z = vit::reference::forward(model, x.data() + i * image);
            double mx = -1e300, sum = 0;
            for (double v : z) mx = std::max(mx, v);
            for (double v : z) sum += std::exp(v - mx);
            for (int k = 0; k < c.num_classes; ++k) {
                const double q = (k == y[i] ? 1.0 - smoothing : 0.0) + smoothing / c.num_classes;
                total -= q * (z[k] - mx - std::log(sum));
            }
        }
        return total / batch;
    };
    std::uniform_real_distribution<double> pick(0.0, 1.0);
    for (const auto& v : model.params().views()) {
        const float* g = trainer.grads().get(v.name);
        float gmax = 0;
        for (size_t i = 0; i < v.numel; ++i) gmax = std::max(gmax, std::fabs(g[i]));
        for (int s = 0; s < 3; ++s) {
            const size_t i = std::min(v.numel - 1, static_cast<size_t>(pick(rng) * v.numel));
            float* p = model.params().get(v.name) + i;
            const float orig = *p, h = 1e-3f;
            *p = orig + h;
            const double up = loss();
            *p = orig - h;
            const double down = loss();
            *p = orig;
            const double fd = (up - down) / (double(orig + h) - double(orig - h));
            EXPECT_NEAR(g[i], fd, 2e-3 * gmax + 1e-5) << v.name << "[" << i << "]";
        }
    }
}

vit::ViTConfig tiny() {
    vit::ViTConfig c;
    c.img_h = c.img_w = 8;
    c.patch_size = 4;
    c.embed_dim = 12;
    c.depth = 2;
    c.num_heads = 3;
    c.num_classes = 4;
    c.mlp_ratio = 2.0;
    return c;
}

}  // namespace

TEST(GradCheck, TokenPool) { check_gradients(tiny(), 3); }

TEST(GradCheck, AvgPoolFcNormNoClassTokenNoQkvBias) {
    auto c = tiny();
    c.class_token = false;
    c.global_pool = vit::GlobalPool::Avg;
    c.fc_norm = true;
    c.qkv_bias = false;
    check_gradients(c, 2);
}

TEST(GradCheck, LayerScaleGammasRegisterTokensPositionsOnPatchesOnly) {
    auto c = tiny();
    c.init_values = 0.5f;
    c.reg_tokens = 2;
    c.no_embed_class = true;
    check_gradients(c, 2);
}

TEST(GradCheck, DistillationTokenAndBothHeads) {
    auto c = tiny();
    c.distilled = true;
    check_gradients(c, 3);
}

TEST(GradCheck, NormPreWithoutPatchBiasQuickGelu) {
    auto c = tiny();
    c.pre_norm = true;
    c.act = vit::Activation::QuickGelu;
    check_gradients(c, 2);
}

TEST(GradCheck, AttentionPoolHeadTanhGeluNoClassToken) {
    auto c = tiny();
    c.class_token = false;
    c.global_pool = vit::GlobalPool::Map;
    c.act = vit::Activation::GeluTanh;
    check_gradients(c, 3);
}

TEST(GradCheck, AttentionPoolWithFcNormAndLayerScale) {
    auto c = tiny();
    c.global_pool = vit::GlobalPool::Map;
    c.fc_norm = true;
    c.init_values = 0.5f;
    check_gradients(c, 2);
}

TEST(GradCheck, ClassTokenBesideMeanOfPatchesWithRegistersAndLayerScale) {
    auto c = tiny();
    c.global_pool = vit::GlobalPool::TokenAvg;
    c.reg_tokens = 1;
    c.init_values = 0.5f;
    check_gradients(c, 3);
}

TEST(GradCheck, AvgPoolWithFinalNormGrayscaleNonSquare) {
    auto c = tiny();
    c.global_pool = vit::GlobalPool::Avg;
    c.in_chans = 1;
    c.img_w = 12;
    check_gradients(c, 2);
}

TEST(Optim, ScheduleWarmupThenCosine) {
    const vit::Schedule s{10, 110, 1e-3f, 0.0f};
    EXPECT_FLOAT_EQ(s.lr(0), 0.0f);
    EXPECT_FLOAT_EQ(s.lr(5), 5e-4f);
    EXPECT_FLOAT_EQ(s.lr(10), 1e-3f);
    EXPECT_NEAR(s.lr(60), 5e-4f, 1e-9);
    EXPECT_NEAR(s.lr(110), 0.0f, 1e-9);
}

TEST(Optim, ClipGradNormAndDecayExclusions) {
    vit::ViTConfig c = tiny();
    vit::Parameters g(c);
    for (size_t i = 0; i < g.size(); ++i) g.data()[i] = 1.0f;
    const float norm = vit::clip_grad_norm(g, 1.0f);
    EXPECT_GT(norm, 1.0f);
    double sq = 0;
    for (size_t i = 0; i < g.size(); ++i) sq += double(g.data()[i]) * g.data()[i];
    EXPECT_NEAR(std::sqrt(sq), 1.0, 1e-4);

    // With zero gradients only weight decay moves parameters, and only those not excluded.
    vit::Parameters p(c), zero(c);
    for (size_t i = 0; i < p.size(); ++i) p.data()[i] = 1.0f;
    vit::OptimConfig oc;
    oc.weight_decay = 0.5f;
    oc.exclude_from_decay = true;
    vit::AdamW adam(p, oc);
    adam.step(p, zero, 0.1f);
    EXPECT_FLOAT_EQ(p.get("pos_embed")[0], 1.0f);
    EXPECT_FLOAT_EQ(p.get("blocks.0.norm1.weight")[0], 1.0f);
    EXPECT_FLOAT_EQ(p.get("head.bias")[0], 1.0f);
    EXPECT_FLOAT_EQ(p.get("head.weight")[0], 0.95f);
}

TEST(Optim, CrossEntropyRejectsBadLabel) {
    std::vector<float> z(4, 0.0f), d(4);
    int y = 7;
    EXPECT_THROW(vit::cross_entropy(z.data(), &y, 1, 4, 0.0f, d.data()), vit::ConfigError);
}

// Dropout and drop-path: the analytic gradient under a fixed set of masks against central differences
// of the same masked forward (float32 here, so the tolerance is wider than the double-reference checks).
namespace {

vit::ViTConfig masked_config() {
    vit::ViTConfig c = tiny();
    c.depth = 3;
    return c;
}

void check_gradients_under_masks(const vit::Regularization& reg, const vit::ViTConfig& c = masked_config()) {
    vit::Model model = vit::reference::random_model(c, 5);
    std::mt19937 rng(6);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    const int batch = 6;
    std::vector<float> x(size_t(batch) * 3 * 8 * 8);
    for (float& v : x) v = nd(rng) * 3.0f;
    std::vector<int> y(batch);
    for (int i = 0; i < batch; ++i) y[size_t(i)] = i % c.num_classes;

    vit::OptimConfig oc;
    oc.regularization = reg;
    vit::Trainer trainer(model, batch, oc);
    auto loss = [&](uint64_t seed) {
        trainer.set_noise_seed(seed);
        return trainer.compute_gradients(x.data(), y.data(), batch).loss;
    };
    // Different masks give different losses, the same seed the same one; without noise the loss is
    // another one again.
    const float l1 = loss(1), l2 = loss(2);
    EXPECT_NE(l1, l2);
    EXPECT_EQ(loss(1), l1);
    vit::Trainer plain(model, batch, vit::OptimConfig{});
    EXPECT_NE(plain.compute_gradients(x.data(), y.data(), batch).loss, l1);

    loss(1);
    const vit::Parameters g = trainer.grads();
    std::uniform_real_distribution<double> pick(0.0, 1.0);
    for (const auto& v : model.params().views()) {
        float gmax = 0;
        for (size_t i = 0; i < v.numel; ++i) gmax = std::max(gmax, std::fabs(g.get(v.name)[i]));
        for (int s = 0; s < 2; ++s) {
            const size_t i = std::min(v.numel - 1, static_cast<size_t>(pick(rng) * v.numel));
            float* p = model.params().get(v.name) + i;
            const float orig = *p, h = 1e-2f;
            *p = orig + h;
            const double up = loss(1);
            *p = orig - h;
            const double down = loss(1);
            *p = orig;
            EXPECT_NEAR(g.get(v.name)[i], (up - down) / (2.0 * h), 3e-2 * gmax + 2e-4) << v.name << "[" << i << "]";
        }
    }
}

vit::Regularization only(float vit::Regularization::*rate, float value) {
    vit::Regularization r;
    r.*rate = value;
    return r;
}

}  // namespace

TEST(GradCheck, DropPathWithFixedMasks) { check_gradients_under_masks(only(&vit::Regularization::drop_path, 0.6f)); }
TEST(GradCheck, DropoutWithFixedMasks) { check_gradients_under_masks(only(&vit::Regularization::dropout, 0.3f)); }
TEST(GradCheck, AttentionDropoutWithFixedMasks) {
    check_gradients_under_masks(only(&vit::Regularization::attn_drop, 0.3f));
}
TEST(GradCheck, HeadDropoutWithFixedMasks) { check_gradients_under_masks(only(&vit::Regularization::head_drop, 0.3f)); }
TEST(GradCheck, AllNoiseTogetherWithFixedMasks) { check_gradients_under_masks({0.4f, 0.2f, 0.2f, 0.2f}); }
TEST(GradCheck, LayerScaleRegistersDistillationAndNormPreUnderAllNoiseWithFixedMasks) {
    vit::ViTConfig c = masked_config();
    c.init_values = 0.5f;
    c.reg_tokens = 1;
    c.distilled = true;
    c.pre_norm = true;
    check_gradients_under_masks({0.4f, 0.2f, 0.2f, 0.2f}, c);
}
TEST(GradCheck, AttentionPoolUnderAllNoiseWithFixedMasks) {
    vit::ViTConfig c = masked_config();
    c.class_token = false;
    c.global_pool = vit::GlobalPool::Map;
    check_gradients_under_masks({0.4f, 0.2f, 0.2f, 0.2f}, c);
}

// The mask is Bernoulli(1 - p) per element, scaled by 1 / (1 - p), and a function of the key alone.
TEST(Dropout, KeepsTheRightFractionAndMeanAndRepeatsPerKey) {
    const vit::layers::Dropout drop(0.25f);
    const int64_t n = 1 << 20;
    const size_t len = static_cast<size_t>(n);
    std::vector<float> x(len, 2.0f), y(len), z(len);
    drop.apply(x.data(), y.data(), n, 42);
    int64_t kept = 0;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        kept += y[size_t(i)] != 0.0f;
        sum += y[size_t(i)];
        ASSERT_TRUE(y[size_t(i)] == 0.0f || std::fabs(y[size_t(i)] - 2.0f / 0.75f) < 1e-6f) << i;
        ASSERT_EQ(y[size_t(i)] != 0.0f, drop.kept(42, i)) << i;
    }
    // Binomial(n, 0.75): sd of the fraction is sqrt(0.75 * 0.25 / n) = 4.2e-4; allow 5 sd.
    EXPECT_NEAR(double(kept) / double(n), 0.75, 2.2e-3);
    EXPECT_NEAR(sum / double(n), 2.0, 2.0 * 2.2e-3 / 0.75);
    drop.apply(x.data(), z.data(), n, 42);
    EXPECT_EQ(y, z);
    drop.apply(x.data(), z.data(), n, 43);
    EXPECT_NE(y, z);
    // Neighbouring elements are independent: P(both kept) is 0.75^2.
    int64_t pairs = 0;
    for (int64_t i = 0; i + 1 < n; i += 2) pairs += y[size_t(i)] != 0.0f && y[size_t(i + 1)] != 0.0f;
    EXPECT_NEAR(double(pairs) / double(n / 2), 0.5625, 5e-3);
    EXPECT_THROW(vit::layers::Dropout(1.0f), vit::ConfigError);
    EXPECT_THROW(vit::layers::Dropout(-0.1f), vit::ConfigError);
}
