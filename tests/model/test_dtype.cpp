// Inference in bf16 (vit/dtype.hpp) against f32: the layers on their own, whole models (the timm
// fixtures in tests/fixtures) and the --dtype flag.
//
// Tolerances. bf16 keeps 8 significant bits: one rounding is at most 2^-9 relative (0.2%). A product
// over K terms accumulated in f32 has an error that grows like √K roundings of its terms, and a model
// stacks a few dozen such products, LayerNorms rescaling in between. Measured on the four fixtures
// (the figures lines): max |bf16 - f32 logit| / max |f32 logit| from 0.01% to 0.23%, attention
// probabilities within 6e-5. The tests allow 1% of the logits' scale (4x the worst measured) and 1e-3
// absolute on attention probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "cli_helpers.hpp"
#include "cpu_caps.hpp"
#include "dtype_agreement.hpp"
#include "random_data.hpp"
#include "tensor_compare.hpp"
#include "model/layers/convert.hpp"
#include "model/layers/linear.hpp"
#include "vit/util/logits.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;
using vit_test::max_abs;
using vit_test::max_abs_diff;
using vit_test::randn;

namespace {

constexpr float kLogitTolerance = 1e-2f;      // of max |f32 logit|
constexpr float kAttentionTolerance = 1e-3f;  // absolute, on probabilities

TEST(Dtype, NamesParseBackAndOthersAreRefused) {
    for (vit::Dtype d : {vit::Dtype::F32, vit::Dtype::BF16, vit::Dtype::Int8}) EXPECT_EQ(vit::parse_dtype(vit::to_string(d)), d);
    EXPECT_THROW(vit::parse_dtype("fp16"), vit::ConfigError);
    EXPECT_THROW(vit::parse_dtype("BF16"), vit::ConfigError);
}

// The Linear layer with bf16 input and packed bf16 weights: oneDNN's bf16 kernel (not a reference
// one), and each output within bf16 rounding of the f32 product. With x and w rounded to bf16 (relative
// error ≤ 2^-8 each), |y - y32| ≤ 2 · 2^-8 · Σ_k |x_k w_k| + output rounding.
TEST(Bf16Linear, PackedWeightsGiveTheF32ProductWithinBf16Rounding) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const int64_t M = 37, in = 96, out = 80;
    const auto x = randn(size_t(M * in), 1), w = randn(size_t(out * in), 2),
               b = randn(size_t(out), 3);
    vit::layers::Linear f32(M, in, out, true);
    std::vector<float> want(size_t(M * out));
    f32.forward(x.data(), w.data(), b.data(), want.data());

    namespace L = vit::layers;
    for (L::dt y_type : {L::dt::f32, L::dt::bf16}) {
        L::Linear bf16(M, in, out, true, L::Epilogue::None, false, vit::Activation::Gelu, {L::dt::bf16, y_type});
        EXPECT_EQ(std::string(bf16.impl()).find("ref"), std::string::npos) << bf16.impl();
        // Native kernels have bf16 in their name; where bf16 is emulated, an f32 kernel runs.
        if (vit::cpu_support().bf16.mode == vit::DtypeMode::Native) {
            EXPECT_NE(std::string(bf16.impl()).find("bf16"), std::string::npos) << bf16.impl();
        }
        const dnnl::memory packed = bf16.pack(w.data());
        std::vector<L::Bf16> x16(x.size());
        L::Convert(int64_t(x.size()), L::dt::f32, L::dt::bf16).run(x.data(), x16.data());
        std::vector<float> got(want.size());
        std::vector<L::Bf16> got16(want.size());
        if (y_type == L::dt::f32) {
            bf16.forward(x16.data(), packed.get_data_handle(), b.data(), got.data());
        } else {
            bf16.forward(x16.data(), packed.get_data_handle(), b.data(), got16.data());
            L::Convert(int64_t(got.size()), L::dt::bf16, L::dt::f32).run(got16.data(), got.data());
        }
        float worst = 0;  // the largest error as a share of its bound
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < out; ++j) {
                float mag = 0;
                for (int64_t k = 0; k < in; ++k) mag += std::fabs(x[size_t(i * in + k)] * w[size_t(j * in + k)]);
                const float y = want[size_t(i * out + j)];
                const float bound = 2.0f * std::ldexp(mag, -8) + std::ldexp(std::fabs(y), -8) + 1e-6f;
                worst = std::max(worst, std::fabs(got[size_t(i * out + j)] - y) / bound);
            }
        EXPECT_LE(worst, 1.0f) << "output " << (y_type == L::dt::f32 ? "f32" : "bf16");
        EXPECT_GT(worst, 0.0f) << "bf16 rounding should show";
    }
}

// Fixture models, f32 against bf16 on the inputs timm's reference was made from.
struct Fixture {
    const char* dir;  // under tests/fixtures
};
void PrintTo(const Fixture& f, std::ostream* os) { *os << f.dir; }

class Bf16Model : public ::testing::TestWithParam<Fixture> {};

TEST_P(Bf16Model, LogitsAndAttentionStayWithinBf16ToleranceOfF32AndTopClassesAgree) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const std::string dir = std::string(VIT_TEST_DATA) + "/" + GetParam().dir;
    const vit::Model model(vit::load_checkpoint(dir));
    const vit::SafeTensors ref = vit::read_safetensors(dir + "/reference.safetensors");
    const vit::Tensor& input = ref.tensors.at("input");

    std::vector<vit::Tensor> attn32, attn16;
    const vit::Tensor f32 = vit::run_forward(model, input, 2, &attn32, vit::Dtype::F32);
    const vit::Tensor bf16 = vit::run_forward(model, input, 2, &attn16, vit::Dtype::BF16);
    ASSERT_EQ(bf16.shape, f32.shape);
    const float scale = max_abs(f32), dl = max_abs_diff(bf16, f32);
    EXPECT_LE(dl, kLogitTolerance * scale) << "max |logit| " << scale;
    EXPECT_GT(dl, 0.0f) << "the bf16 path should not be the f32 one";
    float da = 0;
    ASSERT_EQ(attn16.size(), attn32.size());
    for (size_t i = 0; i < attn32.size(); ++i) da = std::max(da, max_abs_diff(attn16[i], attn32[i]));
    EXPECT_LE(da, kAttentionTolerance);
    if (model.config().num_classes > 0) {
        const int64_t N = f32.shape[0], K = f32.shape[1];
        for (int64_t n = 0; n < N; ++n)
            EXPECT_EQ(vit::argmax(bf16.ptr() + n * K, int(K)), vit::argmax(f32.ptr() + n * K, int(K))) << "image " << n;
    }
    std::cout << "[ figures  ] " << GetParam().dir << ": max |bf16 - f32 logits| / max |logit| " << dl / scale
              << ", max |attention diff| " << da << "\n";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Bf16Model,
                         ::testing::Values(Fixture{"timm-vit-small32"},
                                           Fixture{"timm-hub/vit_base_patch16_clip_224.openai-mini"},
                                           Fixture{"timm-hub/vit_base_patch16_siglip_224.webli-mini"},
                                           Fixture{"timm-hub/vit_small_patch14_reg4_dinov2.lvd142m-mini"}),
                         [](const auto& info) {
                             std::string name = info.param.dir;
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

// The shipped CIFAR-10 model on the 10,000 test images (../shared): bf16 predicts the f32 class for at
// least 99.5% of them, and its accuracy is within 0.5 points (measured: 99.91% agreement, 78.06% against
// 78.05%).
TEST(Bf16Cifar, ShippedModelAgreesWithF32OnTheTestImages) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const std::string test_dir = std::string(VIT_SHARED_DIR) + "/datasets/cifar10/test";
    if (!fs::exists(test_dir)) GTEST_SKIP() << "CIFAR-10 not found at " << test_dir << " (../shared absent)";
    const vit::Model model(vit::load_checkpoint(std::string(VIT_SOURCE_DIR) + "/models/cifar-t.safetensors"));
    vit::LoadOptions lo;
    lo.channels = 3;
    lo.height = lo.width = 32;
    lo.val_split = 0.5;  // the folder has no test split of its own: both halves are the test images
    const vit::DataSplit halves = vit::load_dataset(test_dir, lo);
    const vit_test::Agreement a = vit_test::agreement_with_f32(model, vit::Dtype::BF16, {&halves.train, &halves.test});
    ASSERT_EQ(a.total, 10000);
    EXPECT_GE(a.agree, 9950) << "top-1 agreement below 99.5%";
    EXPECT_LE(std::abs(a.right_other - a.right_f32), 50)
        << "accuracy " << a.right_other << " vs " << a.right_f32 << " of 10000";
    std::cout << "[ figures  ] CIFAR-10 test: bf16 agrees with f32 on " << a.agree << " of " << a.total
              << "; correct " << a.right_f32 << " (f32), " << a.right_other << " (bf16)\n";
}

TEST(DtypeCapture, AttentionGradientsAreRefusedOutsideF32) {
    const vit::Model model(vit::load_checkpoint(std::string(VIT_TEST_DATA) + "/timm-vit-small32"));
    const vit::ViTConfig& c = model.config();
    const vit::Tensor x({1, c.in_chans, c.img_h, c.img_w});
    for (vit::Dtype d : {vit::Dtype::BF16, vit::Dtype::Int8})
        EXPECT_THROW(vit::capture_attention(model, x, {0}, 1, true, d), vit::ConfigError) << vit::to_string(d);
}

using vit_test::Cli;
using vit_test::quote;

TEST_F(Cli, BenchReportsTheDtypeItRanOrRefusesItOnThisCpu) {
    for (const vit::Dtype dtype : {vit::Dtype::BF16, vit::Dtype::Int8}) {
        const std::string d = vit::to_string(dtype);
        const vit_test::Result r = run("bench --model-config cifar-t --batch 2 --reps 1 --dtype " + d);
        if (vit::cpu_support().dtype(dtype).mode == vit::DtypeMode::Refused) {
            EXPECT_CLEAN_EXIT(r, 2);
            EXPECT_NE(r.err.find(vit::cpu_support().isa), std::string::npos) << r.err;
            continue;
        }
        EXPECT_CLEAN_EXIT(r, 0);
        EXPECT_NE(r.out.find("\"dtype\":\"" + d + "\""), std::string::npos) << r.out;
    }
}

TEST_F(Cli, UnknownDtypeIsAUsageError) {
    const vit_test::Result r = run("classify --dtype f16 --model " + quote(vit_test::kModel) + " " +
                                   quote(vit_test::kSamples + "/cifar10"));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--dtype"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("f16"), std::string::npos) << r.err;
}

TEST_F(Cli, Bf16TrainingBenchReportsTheDtypeItRan) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const vit_test::Result r = run("bench --model-config cifar-t --batch 2 --reps 1 --train --dtype bf16");
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_NE(r.out.find("\"mode\":\"train\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"dtype\":\"bf16\""), std::string::npos) << r.out;
}

TEST_F(Cli, GradientRolloutRefusesBf16BeforeLoadingAnything) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const vit_test::Result r = run("explain --dtype bf16 --method grad-rollout --model " + quote(vit_test::kModel) +
                                   " --output " + quote((tmp_ / "out").string()) + " " +
                                   quote(vit_test::kSamples + "/cifar10"));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("gradients are computed in f32"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp_ / "out"));
}

}  // namespace
