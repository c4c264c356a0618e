// Inference with int8 Linear layers (vit/dtype.hpp, Dtype::Int8) against f32: the quantisation of
// rows, the vectorised activations, the int8 Linear on its own, whole models and the --dtype flag.
//
// Tolerances. An activation row quantised to 255 steps of its range is off by at most half a step
// (0.2% of the range), a weight by half a step of 127 (0.4% of its channel's largest magnitude). A
// product over K terms adds those errors with random signs, so its error grows like √K steps, and a
// model stacks a few dozen such products with LayerNorms rescaling in between. Measured on the fixture
// models (the figures lines) the logits' largest error is 0.04% to 1.7% of their largest magnitude;
// the tests allow 5% (kLogitTolerance), and on the fixtures with a classifier the top class must agree.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include "cli_helpers.hpp"
#include "dtype_agreement.hpp"
#include "random_data.hpp"
#include "tensor_compare.hpp"
#include "model/layers/activation_math.hpp"
#include "model/layers/int8_linear.hpp"
#include "model/layers/linear.hpp"
#include "vit/util/logits.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;
namespace L = vit::layers;
using vit_test::randn;
using vit_test::max_abs;
using vit_test::max_abs_diff;

namespace {

constexpr float kLogitTolerance = 5e-2f;  // of max |f32 logit|

TEST(Int8Quantize, RowsComeBackWithinHalfAStepOfTheirRange) {
    const int64_t rows = 5, cols = 1000;
    auto x = randn(size_t(rows * cols), 7, 1.0f, 3.0f);  // shifted: the offset must carry the mean
    std::fill(x.begin() + 4 * cols, x.end(), -2.5f);       // a constant row
    L::QuantizedRows q(rows, cols);
    L::quantize_rows(x.data(), rows, cols, q);
    std::vector<float> back(x.size());
    L::dequantize_rows(q, rows, cols, back.data());
    for (int64_t r = 0; r < rows; ++r) {
        const auto first = x.begin() + r * cols, last = first + cols;
        const float range = *std::max_element(first, last) - *std::min_element(first, last);
        EXPECT_FLOAT_EQ(q.scale[size_t(r)], range / 255.0f) << "row " << r;
        float worst = 0;
        for (int64_t c = 0; c < cols; ++c) {
            const size_t k = size_t(r * cols + c);
            worst = std::max(worst, std::fabs(back[k] - x[k]));
        }
        if (r < 4) {
            EXPECT_LE(worst, 0.5001f * q.scale[size_t(r)]) << "row " << r;
            EXPECT_GT(worst, 0.25f * q.scale[size_t(r)]) << "row " << r << ": rounding should show";
        } else {
            EXPECT_EQ(worst, 0.0f) << "a constant row is exact";
        }
    }
}

TEST(Int8ActivationMath, VectorisedActivationsMatchTheLibmFormulas) {
    float worst_gelu = 0, worst_quick = 0, worst_tanh = 0, worst_exp = 0;
    for (float x = -12.0f; x <= 12.0f; x += 1.0f / 512) {
        const double xd = x;
        const double gelu = 0.5 * xd * (1 + std::erf(xd / std::sqrt(2.0)));
        const double quick = xd / (1 + std::exp(-1.702 * xd));
        const double tanh_gelu = 0.5 * xd * (1 + std::tanh(std::sqrt(2 / M_PI) * (xd + 0.044715 * xd * xd * xd)));
        // Absolute error for |x| < 1, relative above: the functions grow like x.
        const double unit = std::max(1.0, std::fabs(xd));
        worst_gelu = std::max(worst_gelu, float(std::fabs(L::gelu_erf(x) - gelu) / unit));
        worst_quick = std::max(worst_quick, float(std::fabs(L::quick_gelu(x) - quick) / unit));
        worst_tanh = std::max(worst_tanh, float(std::fabs(L::gelu_tanh(x) - tanh_gelu) / unit));
        worst_exp = std::max(worst_exp, float(std::fabs(L::exp_approx(x) - std::exp(xd)) / std::exp(xd)));
    }
    EXPECT_LE(worst_gelu, 1e-6f);
    EXPECT_LE(worst_quick, 1e-6f);
    EXPECT_LE(worst_tanh, 1e-6f);
    EXPECT_LE(worst_exp, 1e-6f);
    EXPECT_EQ(L::exp_approx(-200.0f) < 1e-37f, true);  // clamped, not wrapped
    EXPECT_TRUE(std::isfinite(L::exp_approx(200.0f)));
}

// The int8 Linear computes the product of its quantised operands: y equals, to f32 rounding, the f32
// product of the dequantised input and the dequantised weights; and that is within the quantisation
// bound of the f32 Linear. Every epilogue: written, accumulated, and activated then quantised.
TEST(Int8Linear, GivesTheProductOfItsQuantisedOperandsInEveryEpilogue) {
    const int64_t M = 37, in = 96, out = 80;
    const auto x = randn(size_t(M * in), 1, 1.0f, 0.5f), w = randn(size_t(out * in), 2),
               b = randn(size_t(out), 3);
    L::QuantizedRows xq(M, in);
    L::quantize_rows(x.data(), M, in, xq);
    std::vector<float> xd(x.size());
    L::dequantize_rows(xq, M, in, xd.data());
    std::vector<std::int32_t> acc(size_t(M * out));

    L::Int8Linear plain(M, in, out), residual(M, in, out, L::Epilogue::Accumulate),
        activated(M, in, out, L::Epilogue::Activate, vit::Activation::Gelu);
    if (vit::cpu_support().int8.mode == vit::DtypeMode::Native) {
        EXPECT_NE(std::string(plain.impl()).find("vnni"), std::string::npos) << plain.impl();
        EXPECT_EQ(plain.weight_levels(), 127);
    } else {  // int16 sums saturate without VNNI: weights on 7 bits
        EXPECT_EQ(plain.weight_levels(), 63);
    }
    const L::Int8Weights p = plain.pack(w.data(), b.data());
    // The dequantised weights: W ≈ sw_c · Wq, with Wq recovered from the f32 W and the scale.
    std::vector<float> wd(w.size());
    for (int64_t c = 0; c < out; ++c)
        for (int64_t k = 0; k < in; ++k) {
            const float s = p.scale[size_t(c)];
            wd[size_t(c * in + k)] = s * std::round(w[size_t(c * in + k)] / s);
        }
    std::vector<float> want(size_t(M * out)), want32(size_t(M * out)), got(size_t(M * out));
    L::Linear f32(M, in, out, true);
    f32.forward(xd.data(), wd.data(), b.data(), want.data());
    f32.forward(x.data(), w.data(), b.data(), want32.data());

    plain.forward(xq, p, acc.data(), got.data());
    float worst = 0, worst32 = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        worst = std::max(worst, std::fabs(got[i] - want[i]));
        worst32 = std::max(worst32, std::fabs(got[i] - want32[i]));
        scale = std::max(scale, std::fabs(want32[i]));
    }
    EXPECT_LE(worst, 1e-5f * scale) << "not the product of the quantised operands";
    EXPECT_LE(worst32, 2e-2f * scale) << "too far from the f32 product";
    EXPECT_GT(worst32, 1e-5f * scale) << "quantisation should show";

    std::vector<float> sum(got.size(), 1.0f);
    residual.forward(xq, residual.pack(w.data(), b.data()), acc.data(), sum.data());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(sum[i], got[i] + 1.0f, 1e-5f * scale) << i;

    L::QuantizedRows hq(M, out);
    activated.forward(xq, activated.pack(w.data(), b.data()), acc.data(), hq);
    std::vector<float> h(got.size());
    L::dequantize_rows(hq, M, out, h.data());
    for (int64_t r = 0; r < M; ++r)
        for (int64_t c = 0; c < out; ++c) {
            const double y = got[size_t(r * out + c)], gelu = 0.5 * y * (1 + std::erf(y / std::sqrt(2.0)));
            ASSERT_NEAR(h[size_t(r * out + c)], gelu, 0.5001 * hq.scale[size_t(r)] + 1e-5) << r << ", " << c;
        }
}

// Fixture models, f32 against int8 on the inputs timm's reference was made from: the small ones in
// tests/fixtures, and the full-size tiny models in ../shared when it is there.
struct Fixture {
    const char* dir;
    bool shared;  // under ../shared/fixtures, else tests/fixtures
};
void PrintTo(const Fixture& f, std::ostream* os) { *os << f.dir; }

class Int8Model : public ::testing::TestWithParam<Fixture> {};

TEST_P(Int8Model, LogitsStayWithinInt8ToleranceOfF32AndTopClassesAgree) {
    const std::string dir =
        std::string(GetParam().shared ? VIT_SHARED_DIR "/fixtures" : VIT_TEST_DATA) + "/" + GetParam().dir;
    if (!fs::exists(dir)) GTEST_SKIP() << dir << " not found (../shared absent)";
    const vit::Model model(vit::load_checkpoint(dir));
    const vit::SafeTensors ref = vit::read_safetensors(dir + "/reference.safetensors");
    const vit::Tensor& input = ref.tensors.at("input");

    std::vector<vit::Tensor> attn;
    const vit::Tensor f32 = vit::run_forward(model, input, 2, nullptr, vit::Dtype::F32);
    const vit::Tensor int8 = vit::run_forward(model, input, 2, &attn, vit::Dtype::Int8);
    ASSERT_EQ(int8.shape, f32.shape);
    EXPECT_EQ(attn.size(), size_t(model.config().depth)) << "attention maps are kept in int8 too";
    const float scale = max_abs(f32), dl = max_abs_diff(int8, f32);
    EXPECT_LE(dl, kLogitTolerance * scale) << "max |logit| " << scale;
    EXPECT_GT(dl, 0.0f) << "the int8 path should not be the f32 one";
    int agree = 0;
    const int64_t N = f32.shape[0], K = f32.shape[1];
    if (model.config().num_classes > 0)
        for (int64_t n = 0; n < N; ++n) {
            const bool same = vit::argmax(int8.ptr() + n * K, int(K)) == vit::argmax(f32.ptr() + n * K, int(K));
            EXPECT_TRUE(same) << "image " << n;
            agree += same;
        }
    std::cout << "[ figures  ] " << GetParam().dir << ": max |int8 - f32 logits| / max |logit| " << dl / scale;
    if (model.config().num_classes > 0) std::cout << ", top-1 agrees on " << agree << " of " << N;
    std::cout << "\n";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Int8Model,
                         ::testing::Values(Fixture{"timm-vit-small32", false},
                                           Fixture{"timm-hub/vit_base_patch16_clip_224.openai-mini", false},
                                           Fixture{"timm-hub/vit_base_patch16_siglip_224.webli-mini", false},
                                           Fixture{"timm-hub/vit_small_patch14_reg4_dinov2.lvd142m-mini", false},
                                           Fixture{"timm-hub/vit_tiny_patch16_224.augreg_in21k_ft_in1k", true},
                                           Fixture{"timm-hub/deit_tiny_distilled_patch16_224.fb_in1k", true}),
                         [](const auto& info) {
                             std::string name = info.param.dir;
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

// The shipped CIFAR-10 model on 2,000 of the 10,000 test images (../shared; `vit eval --dtype int8` on
// all of them: 77.99% against f32's 78.05%): int8 predicts the f32 class for at least 98% of them and
// its accuracy is within 0.5 points of f32's.
TEST(Int8Cifar, ShippedModelKeepsItsAccuracyOnTestImages) {
    const std::string test_dir = std::string(VIT_SHARED_DIR) + "/datasets/cifar10/test";
    if (!fs::exists(test_dir)) GTEST_SKIP() << "CIFAR-10 not found at " << test_dir << " (../shared absent)";
    const vit::Model model(vit::load_checkpoint(std::string(VIT_SOURCE_DIR) + "/models/cifar-t.safetensors"));
    vit::LoadOptions lo;
    lo.channels = 3;
    lo.height = lo.width = 32;
    lo.val_split = 0.2;  // a seeded fifth of the folder's images
    const vit::Dataset subset = vit::load_dataset(test_dir, lo).test;
    const vit_test::Agreement a = vit_test::agreement_with_f32(model, vit::Dtype::Int8, {&subset});
    ASSERT_EQ(a.total, 2000);
    EXPECT_GE(a.agree, 1960) << "top-1 agreement below 98%";
    EXPECT_LE(std::abs(a.right_other - a.right_f32), 10)
        << "accuracy " << a.right_other << " vs " << a.right_f32 << " of 2000";
    std::cout << "[ figures  ] CIFAR-10 test subset: int8 agrees with f32 on " << a.agree << " of " << a.total
              << "; correct " << a.right_f32 << " (f32), " << a.right_other << " (int8)\n";
}

using vit_test::Cli;
using vit_test::quote;

// The shipped model on the sample images: int8 names the same class as f32 for each (the lines'
// probabilities may differ).
TEST_F(Cli, ClassifyInt8NamesTheSameTopClassAsF32OnTheSamples) {
    const std::string model = std::string(VIT_SOURCE_DIR) + "/models/cifar-t.safetensors";
    const std::string args = " --top-k 1 --model " + quote(model) + " " + quote(vit_test::kSamples + "/cifar10");
    const vit_test::Result f32 = run("classify --dtype f32" + args), int8 = run("classify --dtype int8" + args);
    EXPECT_CLEAN_EXIT(f32, 0);
    EXPECT_CLEAN_EXIT(int8, 0);
    // Each line without its last field (top1_prob).
    const auto labels = [](const std::string& csv) {
        std::vector<std::string> lines;
        std::istringstream in(csv);
        for (std::string line; std::getline(in, line);) lines.push_back(line.substr(0, line.rfind(',')));
        return lines;
    };
    EXPECT_EQ(labels(int8.out).size(), 9u) << int8.out;  // header and the 8 images
    EXPECT_EQ(labels(int8.out), labels(f32.out));
}

TEST_F(Cli, GradientRolloutRefusesInt8BeforeLoadingAnything) {
    const vit_test::Result r = run("explain --dtype int8 --method grad-rollout --model " + quote(vit_test::kModel) +
                                   " --output " + quote((tmp_ / "out").string()) + " " +
                                   quote(vit_test::kSamples + "/cifar10"));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("gradients are computed in f32"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp_ / "out"));
}

}  // namespace
