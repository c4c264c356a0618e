// Fine-tuning controls: layer-wise lr decay per tensor as timm's param_groups_layer_decay computes it
// (tests/fixtures/layer_decay.json, scripts/make_layer_decay_fixture.py), and frozen parameters (a
// linear probe, frozen first blocks) that get no gradient, no optimizer state and never move, while the
// trainable ones get exactly the gradients of a full backward pass.
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "expect_error.hpp"
#include "reference_vit.hpp"
#include "vit/io/checkpoint.hpp"
#include "vit/train/trainer.hpp"
#include "vit/util/error.hpp"

namespace {

vit::ViTConfig three_blocks() {
    vit::ViTConfig c;
    c.img_h = c.img_w = 8;
    c.patch_size = 4;
    c.embed_dim = 12;
    c.depth = 3;
    c.num_heads = 3;
    c.num_classes = 4;
    c.mlp_ratio = 2.0;
    c.reg_tokens = 1;
    c.pre_norm = true;
    return c;
}

struct Step {
    std::vector<float> x;
    std::vector<int> y;
};

Step random_batch(const vit::ViTConfig& c, int n) {
    Step s;
    std::mt19937 rng(11);
    std::normal_distribution<float> d(0.0f, 1.0f);
    s.x.resize(size_t(n) * c.in_chans * c.img_h * c.img_w);
    for (float& v : s.x) v = d(rng);
    for (int i = 0; i < n; ++i) s.y.push_back(i % c.num_classes);
    return s;
}

size_t trainable_floats(const vit::Parameters& p, const vit::Trainable& t) {
    size_t n = 0;
    for (const auto& v : p.views()) n += t.updates(v) ? v.numel : 0;
    return n;
}

// Trains one step with `trainable` and checks: frozen tensors have zero gradient and do not move,
// trainable ones have the full backward's gradient and move, and the optimizer holds moments for the
// trainable ones only.
void check_frozen(const vit::Trainable& trainable) {
    const vit::ViTConfig c = three_blocks();
    const Step s = random_batch(c, 3);
    vit::Model full_model = vit::reference::random_model(c, 4);
    vit::Model model = vit::reference::random_model(c, 4);
    vit::Trainer full(full_model, 3, vit::OptimConfig{});
    full.compute_gradients(s.x.data(), s.y.data(), 3);
    vit::OptimConfig oc;
    oc.trainable = trainable;
    vit::Trainer partial(model, 3, oc);
    const std::vector<float> before(model.params().data(), model.params().data() + model.params().size());
    partial.step(s.x.data(), s.y.data(), 3, 1e-2f);
    int frozen = 0, trained = 0;
    for (const auto& v : model.params().views()) {
        const float* g = partial.grads().data() + v.offset;
        const float* g_full = full.grads().data() + v.offset;
        const float* p = model.params().data() + v.offset;
        double moved = 0, grad = 0, grad_diff = 0;
        for (size_t k = 0; k < v.numel; ++k) {
            moved += std::fabs(p[k] - before[v.offset + k]);
            grad += std::fabs(g[k]);
            grad_diff = std::max<double>(grad_diff, std::fabs(g[k] - g_full[k]));
        }
        if (trainable.updates(v)) {
            ++trained;
            EXPECT_LE(grad_diff, 1e-6) << v.name << ": not the full backward's gradient";
            EXPECT_GT(moved, 0) << v.name;
            EXPECT_NE(partial.optimizer().exp_avg(v), nullptr) << v.name;
        } else {
            ++frozen;
            EXPECT_EQ(grad, 0) << v.name << " is frozen but has a gradient";
            EXPECT_EQ(moved, 0) << v.name << " is frozen but moved";
            EXPECT_EQ(partial.optimizer().exp_avg(v), nullptr) << v.name;
        }
    }
    EXPECT_GT(frozen, 0);
    EXPECT_GT(trained, 0);
    EXPECT_EQ(partial.optimizer().m().size(), trainable_floats(model.params(), trainable));
    EXPECT_LT(partial.optimizer().m().size(), model.params().size());
}

}  // namespace

TEST(LayerDecay, EveryTensorGetsTimmsLrScaleAndWeightDecay) {
    std::ifstream in(std::string(VIT_TEST_DATA) + "/layer_decay.json");
    ASSERT_TRUE(in);
    const nlohmann::json fixture = nlohmann::json::parse(in);
    ASSERT_EQ(fixture.at("models").size(), 5u);
    for (const auto& m : fixture.at("models")) {
        const std::string name = m.at("name").get<std::string>();
        const vit::ViTConfig c = vit::config_from_json(m.at("kwargs").dump(), name);
        vit::Parameters params(c);
        vit::OptimConfig oc;
        oc.weight_decay = fixture.at("weight_decay").get<float>();
        oc.exclude_from_decay = true;
        oc.layer_decay = fixture.at("layer_decay").get<float>();
        const vit::AdamW adam(params, oc);
        const auto& want = m.at("params");
        EXPECT_EQ(params.views().size(), want.size()) << name;
        for (const auto& v : params.views()) {
            ASSERT_TRUE(want.contains(v.name)) << name << ": timm has no " << v.name;
            const vit::ParamGroup g = adam.group(v);
            EXPECT_NEAR(g.lr_scale, want.at(v.name).at("lr_scale").get<double>(), 1e-6) << name << " " << v.name;
            EXPECT_NEAR(g.weight_decay, want.at(v.name).at("weight_decay").get<double>(), 1e-9) << name << " " << v.name;
        }
    }
}

TEST(LayerDecay, AFirstStepMovesEachTensorByItsScaledLearningRate) {
    // Adam's first step is lr * m / sqrt(v) = lr * sign(g) (eps aside), so with layer decay 0.5 the
    // embedding (layer 0; the head is layer depth + 1 = 4: scale 0.5^4) moves 1/16 as far as the head.
    const vit::ViTConfig c = three_blocks();
    const Step s = random_batch(c, 2);
    vit::Model model = vit::reference::random_model(c, 2);
    vit::OptimConfig oc;
    oc.weight_decay = 0;
    oc.layer_decay = 0.5f;
    vit::Trainer t(model, 2, oc);
    const std::vector<float> before(model.params().data(), model.params().data() + model.params().size());
    t.step(s.x.data(), s.y.data(), 2, 0.01f);
    for (const char* name : {"patch_embed.proj.weight", "blocks.1.mlp.fc1.weight", "norm.weight", "head.weight"}) {
        const vit::ParamView& v = model.params().view(name);
        const double scale = std::pow(0.5, 4 - v.decay_layer);
        for (size_t k = 0; k < v.numel; ++k) {
            const float g = t.grads().data()[v.offset + k];
            if (std::fabs(g) < 1e-5f) continue;  // where eps matters
            EXPECT_NEAR(model.params().data()[v.offset + k] - before[v.offset + k], -0.01 * scale * (g > 0 ? 1 : -1),
                        0.02 * 0.01 * scale)  // float rounding of p, and eps against small g
                << name << "[" << k << "]";
        }
    }
    oc.layer_decay = 0.0f;
    EXPECT_THROW(vit::AdamW(model.params(), oc), vit::FieldError);
}

TEST(Freezing, ALinearProbeTrainsTheHeadAloneWithTheFullGradient) {
    vit::Trainable t;
    t.head_only = true;
    check_frozen(t);
}

TEST(Freezing, FrozenFirstBlocksAndEmbeddingGetNoGradientNoStateAndStayPut) {
    vit::Trainable t;
    t.frozen_blocks = 2;
    check_frozen(t);
    t.frozen_blocks = 3;  // every block: the final norm and the head still learn
    check_frozen(t);
}

TEST(Freezing, ImpossibleChoicesAreRefusedNamingTheField) {
    const vit::ViTConfig c = three_blocks();
    vit::Parameters p(c);
    vit::OptimConfig oc;
    oc.trainable.frozen_blocks = 4;
    const std::string too_deep = vit_test::error_of<vit::FieldError>([&] { vit::AdamW(p, oc); });
    EXPECT_NE(too_deep.find("frozen_blocks must be in [0, 3]"), std::string::npos) << too_deep;
    oc.trainable = {true, 1};
    const std::string both = vit_test::error_of<vit::FieldError>([&] { vit::AdamW(p, oc); });
    EXPECT_NE(both.find("head"), std::string::npos) << both;
}
