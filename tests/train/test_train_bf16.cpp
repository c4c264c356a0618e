// Training in bf16 (mixed precision, OptimConfig::dtype) against f32: the Linear layer's three bf16
// products on their own, then one whole training step of the timm-vit-small32 fixture against our f32
// step and against PyTorch's (train_step.safetensors), gradient of every parameter tensor.
//
// Tolerances. bf16 keeps 8 significant bits, so one rounding to nearest is off by at most u = 2^-8
// relative. A product of two rounded operands accumulated in f32 is then off by at most
// (2u + u²) Σ_k |a_k b_k| (the f32 accumulation adds ~K·2^-24 of the same sum, negligible): the layer
// test holds each element to that bound. A whole step chains such products: a gradient reaches the
// patch embedding through, per block, the forward of 4 Linears and 2 attention products (6 x 2
// rounded operands) and the backward's 4 dx and 4 attention products (8 x 2), 28 roundings per block,
// 56 for the fixture's depth 2. Independent roundings are uniform in [-u, u] (RMS u/√3 = 0.23%) and
// add up like a random walk: √56 · 0.23% = 1.7% relative RMS error expected for the deepest gradient,
// less for the others. Each tensor's gradient is held to 3x that, ‖g16 - g32‖ ≤ 5% ‖g32‖, and its
// largest element error to 10% of its largest gradient; the loss (a forward of 24 roundings,
// √24 · 0.23% = 1.1% of the logits' scale, less of the loss) to 1% relative. Measured (the figures
// line): 0.39% worst gradient, 0.02% loss.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "cli_helpers.hpp"
#include "cpu_caps.hpp"
#include "random_data.hpp"
#include "model/layers/convert.hpp"
#include "model/layers/linear.hpp"
#include "vit/vit.hpp"

namespace {

namespace L = vit::layers;
using vit_test::randn;

constexpr double kU = 1.0 / 256;             // bf16's unit roundoff, 2^-8
constexpr double kGradRelL2 = 0.05;          // ‖g16 - g32‖ / ‖g32‖ per tensor
constexpr double kGradMaxElement = 0.10;     // max |g16 - g32| / max |g32| per tensor
constexpr double kLossRelative = 0.01;       // |loss16 - loss32| / loss32

std::vector<L::Bf16> to_bf16(const std::vector<float>& v) {
    std::vector<L::Bf16> out(v.size());
    L::Convert(int64_t(v.size()), L::dt::f32, L::dt::bf16).run(v.data(), out.data());
    return out;
}

// max over the elements of |got - want| / ((2u + u²) Σ_k |a_ik b_kj| + 1e-6): at most 1 when every
// element is within the bound of a product of two bf16-rounded operands. a (rows, K) and b (K, cols)
// given through element accessors.
template <class A, class B>
double worst_share_of_bound(const std::vector<float>& got, const std::vector<float>& want, int64_t rows, int64_t K,
                            int64_t cols, A a, B b) {
    double worst = 0;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
            double mag = 0;
            for (int64_t k = 0; k < K; ++k) mag += std::fabs(double(a(i, k)) * b(k, j));
            const double bound = (2 * kU + kU * kU) * mag + 1e-6;
            worst = std::max(worst, std::fabs(double(got[size_t(i * cols + j)]) - want[size_t(i * cols + j)]) / bound);
        }
    return worst;
}

}  // namespace

// forward y = x Wᵀ + b, dx = dy W, dW += dyᵀ x with x, W and dy rounded to bf16, each element within
// the two-rounding bound of the f32 product; db (summed from the f32 dy) equal to f32's.
TEST(Bf16TrainingLinear, ForwardDxAndDwStayWithinTwoRoundingsOfF32) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const int64_t M = 45, in = 72, out = 56;
    const auto x = randn(size_t(M * in), 1), w = randn(size_t(out * in), 2),
               b = randn(size_t(out), 3), dy = randn(size_t(M * out), 4);
    L::Linear f32(M, in, out, true, L::Epilogue::None, true);
    L::Linear mixed(M, in, out, true, L::Epilogue::None, true, vit::Activation::Gelu, {L::dt::bf16, L::dt::f32});
    // Native kernels have bf16 in their name; where bf16 is emulated, an f32 kernel runs.
    if (vit::cpu_support().bf16.mode == vit::DtypeMode::Native) {
        EXPECT_NE(std::string(mixed.impl()).find("bf16"), std::string::npos) << mixed.impl();
    }
    const auto x16 = to_bf16(x), w16 = to_bf16(w);

    std::vector<float> y32(size_t(M * out)), y16(y32.size());
    f32.forward(x.data(), w.data(), b.data(), y32.data());
    mixed.forward(x16.data(), w16.data(), b.data(), y16.data());
    // Gradients start at 1 so that "accumulates" is part of what is compared.
    std::vector<float> dx32(size_t(M * in)), dx16(dx32.size()), dw32(w.size(), 1.0f), dw16(w.size(), 1.0f),
        db32(b.size(), 1.0f), db16(b.size(), 1.0f);
    f32.backward(x.data(), w.data(), dy.data(), dx32.data(), dw32.data(), db32.data());
    mixed.backward(x16.data(), w16.data(), dy.data(), dx16.data(), dw16.data(), db16.data());
    for (size_t i = 0; i < dw32.size(); ++i) {  // compare the products, without the 1 they were added to
        dw32[i] -= 1.0f;
        dw16[i] -= 1.0f;
    }

    const double fwd = worst_share_of_bound(y16, y32, M, in, out, [&](int64_t i, int64_t k) { return x[size_t(i * in + k)]; },
                                            [&](int64_t k, int64_t j) { return w[size_t(j * in + k)]; });
    const double dx = worst_share_of_bound(dx16, dx32, M, out, in, [&](int64_t i, int64_t k) { return dy[size_t(i * out + k)]; },
                                           [&](int64_t k, int64_t j) { return w[size_t(k * in + j)]; });
    const double dw = worst_share_of_bound(dw16, dw32, out, M, in, [&](int64_t i, int64_t k) { return dy[size_t(k * out + i)]; },
                                           [&](int64_t k, int64_t j) { return x[size_t(k * in + j)]; });
    EXPECT_LE(fwd, 1.0);
    EXPECT_LE(dx, 1.0);
    EXPECT_LE(dw, 1.0);
    EXPECT_GT(fwd * dx * dw, 0.0) << "bf16 rounding should show in every product";
    for (size_t j = 0; j < db32.size(); ++j) EXPECT_NEAR(db16[j], db32[j], 1e-4f * std::fabs(db32[j]) + 1e-5f) << j;
}

namespace {

struct StepOutcome {
    vit::StepResult result;
    vit::Parameters grads, after;
};

StepOutcome train_step(vit::Dtype dtype, const vit::SafeTensors& fx, const std::string& dir,
                       const vit::Regularization& reg = {}) {
    vit::Model model(vit::load_checkpoint(dir));
    const vit::Tensor& x = fx.tensors.at("x");
    std::vector<int> y;
    for (float v : fx.tensors.at("y").data) y.push_back(static_cast<int>(std::lround(v)));
    vit::OptimConfig cfg;
    cfg.weight_decay = 0.05f;
    cfg.label_smoothing = 0.1f;
    cfg.dtype = dtype;
    cfg.regularization = reg;
    const int n = static_cast<int>(x.shape[0]);
    vit::Trainer trainer(model, n, cfg);
    trainer.set_noise_seed(7);  // the same dropout and drop-path masks in both dtypes
    const vit::StepResult r = trainer.step(x.ptr(), y.data(), n, 1e-3f);
    return {r, trainer.grads(), model.params()};
}

struct Diff {
    double rel_l2 = 0, max_share = 0;  // ‖a - b‖ / ‖b‖, max |a - b| / max |b|
};
Diff diff(const float* a, const float* b, size_t n) {
    double d2 = 0, b2 = 0, dmax = 0, bmax = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = double(a[i]) - b[i];
        d2 += d * d;
        b2 += double(b[i]) * b[i];
        dmax = std::max(dmax, std::fabs(d));
        bmax = std::max(bmax, std::fabs(double(b[i])));
    }
    return {std::sqrt(d2 / std::max(b2, 1e-30)), dmax / std::max(bmax, 1e-30)};
}

}  // namespace

TEST(Bf16Training, StepGradientsOfEveryParameterStayWithinBf16ToleranceOfF32AndPyTorch) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const std::string dir = std::string(VIT_TEST_DATA) + "/timm-vit-small32";
    const vit::SafeTensors fx = vit::read_safetensors(dir + "/train_step.safetensors");
    const StepOutcome f32 = train_step(vit::Dtype::F32, fx, dir);
    const StepOutcome bf16 = train_step(vit::Dtype::BF16, fx, dir);
    const double loss_ref = fx.tensors.at("loss").data[0];
    EXPECT_LE(std::fabs(bf16.result.loss - f32.result.loss), kLossRelative * f32.result.loss);
    EXPECT_LE(std::fabs(bf16.result.loss - loss_ref), kLossRelative * loss_ref);
    EXPECT_NE(bf16.result.loss, f32.result.loss) << "the bf16 step ran in f32";

    double worst_ours = 0, worst_torch = 0, worst_max = 0;
    std::string worst_name;
    int checked = 0;
    for (const auto& v : f32.grads.views()) {
        const float* g16 = bf16.grads.get(v.name);
        const Diff ours = diff(g16, f32.grads.get(v.name), v.numel);
        const vit::Tensor& ref = fx.tensors.at("grad." + v.name);
        ASSERT_EQ(ref.data.size(), v.numel) << v.name;
        const Diff torch = diff(g16, ref.data.data(), v.numel);
        EXPECT_LE(ours.rel_l2, kGradRelL2) << "grad." << v.name << " against our f32";
        EXPECT_LE(torch.rel_l2, kGradRelL2) << "grad." << v.name << " against PyTorch";
        EXPECT_LE(ours.max_share, kGradMaxElement) << "grad." << v.name << " against our f32";
        EXPECT_LE(torch.max_share, kGradMaxElement) << "grad." << v.name << " against PyTorch";
        if (ours.rel_l2 > worst_ours) {
            worst_ours = ours.rel_l2;
            worst_name = v.name;
        }
        worst_torch = std::max(worst_torch, torch.rel_l2);
        worst_max = std::max(worst_max, std::max(ours.max_share, torch.max_share));
        ++checked;
    }
    EXPECT_EQ(checked, 32);
    std::cout << "[ figures  ] bf16 train step: loss " << bf16.result.loss << " (f32 " << f32.result.loss
              << ", PyTorch " << loss_ref << "); worst gradient ‖g16 - g32‖/‖g32‖ " << worst_ours << " (" << worst_name
              << "), against PyTorch " << worst_torch << ", worst max-element share " << worst_max << "\n";
}

// Mixed precision keeps f32 master weights: the updated parameters are not bf16 values (the update of
// lr = 1e-3 on weights of ~0.02 would vanish below bf16's resolution), and where the gradient's sign
// is clear they moved exactly as in the f32 step (Adam's first step moves each by lr · sign(g), plus
// the decay).
TEST(Bf16Training, MasterWeightsStayF32AndTakeTheF32Update) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const std::string dir = std::string(VIT_TEST_DATA) + "/timm-vit-small32";
    const vit::SafeTensors fx = vit::read_safetensors(dir + "/train_step.safetensors");
    const StepOutcome f32 = train_step(vit::Dtype::F32, fx, dir);
    const StepOutcome bf16 = train_step(vit::Dtype::BF16, fx, dir);
    size_t not_bf16 = 0, same = 0, clear = 0;
    const float* p16 = bf16.after.data();
    const float* p32 = f32.after.data();
    const float* g32 = f32.grads.data();
    for (const auto& v : f32.after.views())
        for (size_t i = v.offset; i < v.offset + v.numel; ++i) {
            uint32_t bits;
            std::memcpy(&bits, &p16[i], sizeof bits);
            not_bf16 += (bits & 0xffffu) != 0;
            if (std::fabs(g32[i]) > 1e-4f) {  // well above the bf16 gradient error at this scale
                ++clear;
                same += std::fabs(p16[i] - p32[i]) <= 1e-6f;
            }
        }
    const size_t n = f32.after.size();
    EXPECT_GT(not_bf16, n / 2) << "the parameters look rounded to bf16";
    ASSERT_GT(clear, size_t(1000));
    EXPECT_GE(double(same), 0.99 * double(clear)) << same << " of " << clear;
}

// Dropout, attention dropout and drop-path run the same masks in both dtypes (a function of the seed):
// the bf16 gradients stay as close to f32's as without them.
TEST(Bf16Training, StepWithDropoutAndDropPathStaysWithinBf16ToleranceOfF32) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const std::string dir = std::string(VIT_TEST_DATA) + "/timm-vit-small32";
    const vit::SafeTensors fx = vit::read_safetensors(dir + "/train_step.safetensors");
    vit::Regularization reg;
    reg.dropout = 0.1f;
    reg.attn_drop = 0.1f;
    reg.drop_path = 0.2f;
    const StepOutcome f32 = train_step(vit::Dtype::F32, fx, dir, reg);
    const StepOutcome bf16 = train_step(vit::Dtype::BF16, fx, dir, reg);
    EXPECT_LE(std::fabs(bf16.result.loss - f32.result.loss), kLossRelative * f32.result.loss);
    for (const auto& v : f32.grads.views()) {
        const Diff d = diff(bf16.grads.get(v.name), f32.grads.get(v.name), v.numel);
        EXPECT_LE(d.rel_l2, kGradRelL2) << "grad." << v.name;
        EXPECT_LE(d.max_share, kGradMaxElement) << "grad." << v.name;
    }
}

using vit_test::Cli;
using vit_test::quote;

TEST_F(Cli, TrainStepInBf16WritesGradientsNearPyTorchs) {
    VIT_SKIP_UNLESS_DTYPE_RUNS(vit::Dtype::BF16);
    const std::string& dir = vit_test::kFixture;
    const std::string out = (tmp_ / "step16.safetensors").string();
    const vit_test::Result r = run("train-step --dtype bf16 --model " + quote(dir) + " --batch " +
                                   quote(dir + "/train_step.safetensors") + " --output " + quote(out) +
                                   " --lr 1e-3 --weight-decay 0.05 --label-smoothing 0.1");
    EXPECT_CLEAN_EXIT(r, 0);
    const vit::SafeTensors ours = vit::read_safetensors(out);
    const vit::SafeTensors ref = vit::read_safetensors(dir + "/train_step.safetensors");
    const float loss = ref.tensors.at("loss").data[0];
    EXPECT_NEAR(ours.tensors.at("loss").data[0], loss, kLossRelative * loss);
    int compared = 0;
    for (const auto& [name, t] : ref.tensors) {
        if (name.rfind("grad.", 0) != 0) continue;
        const vit::Tensor& g = ours.tensors.at(name);
        ASSERT_EQ(g.shape, t.shape) << name;
        EXPECT_LE(diff(g.data.data(), t.data.data(), t.data.size()).rel_l2, kGradRelL2) << name;
        ++compared;
    }
    EXPECT_EQ(compared, 32);
}
