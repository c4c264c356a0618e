// The forward pass against PyTorch fixtures (timm, Hugging Face) and against a plain double-precision
// reference for every timm option that changes the maths.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "reference_vit.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;

namespace {

float max_abs_diff(const float* a, const float* b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

// Loads a fixture folder, runs its reference input and compares logits and every attention map.
void check_fixture(const std::string& dir, int batch) {
    const vit::Checkpoint ckpt = vit::load_checkpoint(dir);
    const vit::Model model(ckpt);
    const vit::SafeTensors ref = vit::read_safetensors(dir + "/reference.safetensors");
    const vit::Tensor& input = ref.tensors.at("input");
    const vit::Tensor& want = ref.tensors.at("logits");
    std::vector<vit::Tensor> attn;
    const vit::Tensor logits = vit::run_forward(model, input, batch, &attn);
    ASSERT_EQ(logits.shape, want.shape);
    const float dl = max_abs_diff(logits.ptr(), want.ptr(), want.data.size());
    EXPECT_LT(dl, 1e-4f) << dir << " logits";
    float da = 0;
    for (int i = 0; i < model.config().depth; ++i) {
        const vit::Tensor& a = ref.tensors.at("attn." + std::to_string(i));
        ASSERT_EQ(attn[i].shape, a.shape) << "attn." << i;
        da = std::max(da, max_abs_diff(attn[i].ptr(), a.ptr(), a.data.size()));
    }
    EXPECT_LT(da, 1e-5f) << dir << " attention";
    std::cout << "[ figures  ] " << fs::path(dir).filename().string() << " batch " << batch
              << ": max |logits diff| " << dl << ", max |attention diff| " << da << "\n";
}

}  // namespace

TEST(ForwardParity, TimmSmall32) {
    check_fixture(std::string(VIT_TEST_DATA) + "/timm-vit-small32", 4);
    check_fixture(std::string(VIT_TEST_DATA) + "/timm-vit-small32", 3);  // partial last batch
}

TEST(ForwardParity, HuggingFaceSmall32) { check_fixture(std::string(VIT_TEST_DATA) + "/hf-vit-small32", 4); }

TEST(ForwardParity, TimmTinyPatch16_224FromShared) {
    const std::string dir = std::string(VIT_SHARED_DIR) + "/fixtures/timm-vit-tiny-patch16-224";
    if (!fs::exists(dir + "/model.safetensors")) GTEST_SKIP() << "fixture not found at " << dir << " (../shared absent)";
    check_fixture(dir, 2);
}

namespace {

using vit::reference::random_model;

void check_against_reference(const vit::ViTConfig& cfg) {
    const vit::Model model = random_model(cfg, 7);
    const int N = 3;
    vit::Tensor x({N, cfg.in_chans, cfg.img_h, cfg.img_w});
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : x.data) v = d(rng);
    std::vector<vit::Tensor> attn;
    const vit::Tensor logits = vit::run_forward(model, x, 2, &attn);
    const int64_t T = cfg.num_tokens(), H = cfg.num_heads;
    for (int n = 0; n < N; ++n) {
        std::vector<vit::reference::Mat> ref_attn;
        const auto ref = vit::reference::forward(model, x.ptr() + int64_t(n) * cfg.in_chans * cfg.img_h * cfg.img_w, &ref_attn);
        double scale = 1;
        for (double v : ref) scale = std::max(scale, std::fabs(v));
        const int O = cfg.num_outputs();
        for (int k = 0; k < O; ++k)
            EXPECT_NEAR(logits.data[size_t(n) * O + k], ref[k], 2e-4 * scale) << "image " << n << " output " << k;
        for (int b = 0; b < cfg.depth; ++b)
            for (int64_t i = 0; i < H * T * T; ++i)
                ASSERT_NEAR(attn[b].data[size_t(n * H * T * T + i)], ref_attn[b][size_t(i)], 1e-5) << "block " << b;
    }
}

vit::ViTConfig small_config() {
    vit::ViTConfig c;
    c.img_h = c.img_w = 16;
    c.patch_size = 4;
    c.embed_dim = 24;
    c.depth = 2;
    c.num_heads = 3;
    c.num_classes = 5;
    c.mlp_ratio = 2.0;
    return c;
}

}  // namespace

TEST(ForwardOptions, DefaultTokenPool) { check_against_reference(small_config()); }

TEST(ForwardOptions, NoQkvBias) {
    auto c = small_config();
    c.qkv_bias = false;
    check_against_reference(c);
}

TEST(ForwardOptions, NoClassTokenAvgPoolFcNorm) {
    auto c = small_config();
    c.class_token = false;
    c.global_pool = vit::GlobalPool::Avg;
    c.fc_norm = true;
    check_against_reference(c);
}

TEST(ForwardOptions, ClassTokenAvgPoolWithoutFcNorm) {
    auto c = small_config();
    c.global_pool = vit::GlobalPool::Avg;
    c.fc_norm = false;
    check_against_reference(c);
}

TEST(ForwardOptions, TokenPoolWithFcNorm) {
    auto c = small_config();
    c.fc_norm = true;
    check_against_reference(c);
}

TEST(ForwardOptions, GrayscaleNonSquareOddMlpRatioAndEps) {
    auto c = small_config();
    c.in_chans = 1;
    c.img_h = 12;
    c.img_w = 20;
    c.mlp_ratio = 3.5;
    c.ln_eps = 1e-12f;
    check_against_reference(c);
}

// The variants of timm's Hub models, each on its own and in the combinations the Hub uses.
TEST(ForwardOptions, LayerScaleRegistersAndPositionsOnPatchesOnlyWithoutHeadLikeDinov2) {
    auto c = small_config();
    c.init_values = 1e-5f;
    c.reg_tokens = 2;
    c.no_embed_class = true;
    c.num_classes = 0;
    check_against_reference(c);
}

TEST(ForwardOptions, DistillationTokenAndTwoAveragedHeadsLikeDeit) {
    auto c = small_config();
    c.distilled = true;
    check_against_reference(c);
}

TEST(ForwardOptions, PreNormWithoutPatchBiasQuickGeluLikeClip) {
    auto c = small_config();
    c.pre_norm = true;
    c.act = vit::Activation::QuickGelu;
    c.ln_eps = 1e-5f;
    check_against_reference(c);
}

TEST(ForwardOptions, AttentionPoolWithoutClassTokenTanhGeluLikeSiglip) {
    auto c = small_config();
    c.class_token = false;
    c.global_pool = vit::GlobalPool::Map;
    c.act = vit::Activation::GeluTanh;
    check_against_reference(c);
}

TEST(ForwardOptions, AttentionPoolAfterRegistersWithFcNorm) {
    auto c = small_config();
    c.reg_tokens = 1;
    c.global_pool = vit::GlobalPool::Map;
    c.fc_norm = true;
    check_against_reference(c);
}

TEST(ForwardOptions, ClassTokenBesideMeanOfPatchesAfterRegistersLikeHuggingFaceDinov2Classifier) {
    auto c = small_config();
    c.init_values = 0.5f;
    c.reg_tokens = 2;
    c.no_embed_class = true;
    c.global_pool = vit::GlobalPool::TokenAvg;
    check_against_reference(c);
}

TEST(ForwardOptions, ClassTokenBesideMeanOfPatchesWithoutHeadGivesTwiceTheWidth) {
    auto c = small_config();
    c.global_pool = vit::GlobalPool::TokenAvg;
    c.num_classes = 0;
    ASSERT_EQ(c.num_outputs(), 2 * c.embed_dim);
    check_against_reference(c);
}

TEST(ForwardOptions, ClassTokenBesideMeanOfPatchesNeedsClassTokenAndNormBeforePooling) {
    auto c = small_config();
    c.global_pool = vit::GlobalPool::TokenAvg;
    EXPECT_NO_THROW(c.validate());
    auto no_cls = c;
    no_cls.class_token = false;
    EXPECT_THROW(no_cls.validate(), vit::ConfigError);
    auto fc = c;
    fc.fc_norm = true;
    EXPECT_THROW(fc.validate(), vit::ConfigError);
    EXPECT_EQ(vit::parse_global_pool("token_avg"), vit::GlobalPool::TokenAvg);
    EXPECT_STREQ(vit::to_string(vit::GlobalPool::TokenAvg), "token_avg");
}

TEST(ForwardOptions, RejectsBadShapes) {
    const vit::Model model = random_model(small_config(), 1);
    vit::Tensor wrong({2, 3, 32, 32});
    try {
        vit::run_forward(model, wrong, 2);
        FAIL() << "expected ShapeError";
    } catch (const vit::ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("[2, 3, 32, 32]"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("16, 16]"), std::string::npos) << e.what();
    }
    auto bad = small_config();
    bad.img_w = 2;  // smaller than one patch
    EXPECT_THROW(bad.validate(), vit::ConfigError);
}

TEST(ForwardOptions, CheckpointShapeMismatchNamesTensor) {
    vit::Checkpoint ck = random_model(small_config(), 1).to_checkpoint();
    ck.source = "test.safetensors";
    ck.weights["blocks.1.mlp.fc1.weight"] = vit::Tensor({48, 25});
    try {
        vit::Model m(ck);
        FAIL() << "expected ShapeError";
    } catch (const vit::ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("blocks.1.mlp.fc1.weight"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[48, 25]"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[48, 24]"), std::string::npos) << msg;
    }
    ck.weights.erase("head.bias");
    EXPECT_THROW(vit::Model m(ck), vit::ShapeError);
}

TEST(ModelInit, TimmAndTorchSchemes) {
    const vit::ViTConfig c = small_config();
    vit::PreprocessConfig pre;
    pre.height = pre.width = 16;
    const vit::Model timm(c, pre, {}, 5, vit::Init::Timm);
    const vit::Model torch(c, pre, {}, 5, vit::Init::Torch);
    auto stats = [](const vit::Model& m, const std::string& name) {
        const vit::ParamView& v = m.params().view(name);
        const float* p = m.params().get(name);
        float lo = p[0], hi = p[0];
        double sq = 0;
        for (size_t i = 0; i < v.numel; ++i) {
            lo = std::min(lo, p[i]);
            hi = std::max(hi, p[i]);
            sq += double(p[i]) * p[i];
        }
        return std::tuple{lo, hi, std::sqrt(sq / double(v.numel))};
    };
    // timm: weights ~ N(0, 0.02), biases zero.
    EXPECT_NEAR(std::get<2>(stats(timm, "blocks.0.mlp.fc1.weight")), 0.02, 0.004);
    EXPECT_EQ(std::get<1>(stats(timm, "blocks.0.mlp.fc1.bias")), 0.0f);
    // torch: U(-1/sqrt(in), 1/sqrt(in)) for fc2 (in = 48): std = bound / sqrt(3); biases too; cls zero.
    const float bound = 1.0f / std::sqrt(48.0f);
    const auto [lo, hi, rms] = stats(torch, "blocks.1.mlp.fc2.weight");
    EXPECT_GE(lo, -bound);
    EXPECT_LE(hi, bound);
    EXPECT_NEAR(rms, bound / std::sqrt(3.0f), 0.15 * bound);
    EXPECT_GT(std::get<1>(stats(torch, "blocks.1.mlp.fc2.bias")), 0.0f);
    EXPECT_LE(std::get<1>(stats(torch, "blocks.1.mlp.fc2.bias")), bound);
    EXPECT_EQ(std::get<2>(stats(torch, "cls_token")), 0.0);
    for (const vit::Model* m : {&timm, &torch}) {
        EXPECT_EQ(std::get<0>(stats(*m, "norm.weight")), 1.0f);
        EXPECT_EQ(std::get<1>(stats(*m, "norm.bias")), 0.0f);
    }
    EXPECT_THROW(vit::parse_init("xavier"), vit::ConfigError);
}
