// Every layer on its own against central finite differences, through one generic check of the
// layer contract (src/model/layers/dnn.hpp): backward writes the input gradient (whatever the buffer
// held) and accumulates into the parameter gradients (on top of what they held).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "util/cpu_dispatch.hpp"
#include "model/layers/attention.hpp"
#include "random_data.hpp"
#include "model/layers/attention_pool.hpp"
#include "model/layers/dropout.hpp"
#include "model/layers/gelu.hpp"
#include "model/layers/layernorm.hpp"
#include "model/layers/linear.hpp"
#include "model/layers/softmax.hpp"

namespace {

using vit_test::randn;

using Tensors = std::vector<std::vector<float>>;

// A layer as a function of its tensors: [0] is the input, the rest are parameters.
struct LayerUnderTest {
    std::vector<std::string> names;  // one per tensor, for messages
    Tensors tensors;
    size_t out_size = 0;
    std::function<void(const Tensors& t, std::vector<float>& y)> forward;
    // Runs after forward on the same tensors: writes dx, accumulates into dparams (dparams[k] belongs
    // to tensors[k + 1]).
    std::function<void(const Tensors& t, const std::vector<float>& dy, std::vector<float>& dx, Tensors& dparams)>
        backward;
};

void check_layer(LayerUnderTest& L) {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> y(L.out_size), dy(L.out_size);
    for (float& v : dy) v = nd(rng);
    L.forward(L.tensors, y);

    // Sentinels: dx must be overwritten, parameter gradients must be added to.
    constexpr float kSentinel = 0.25f;
    std::vector<float> dx(L.tensors[0].size(), 7.0f);
    Tensors dparams;
    for (size_t k = 1; k < L.tensors.size(); ++k) dparams.emplace_back(L.tensors[k].size(), kSentinel);
    L.backward(L.tensors, dy, dx, dparams);
    std::vector<const float*> analytic{dx.data()};
    for (auto& d : dparams) {
        for (float& v : d) v -= kSentinel;
        analytic.push_back(d.data());
    }

    // The objective <dy, y(t)>, in double, differenced along single elements of each tensor.
    auto objective = [&](const Tensors& t) {
        L.forward(t, y);
        double s = 0;
        for (size_t i = 0; i < y.size(); ++i) s += double(dy[i]) * y[i];
        return s;
    };
    Tensors t = L.tensors;
    std::uniform_real_distribution<double> pick(0.0, 1.0);
    for (size_t k = 0; k < t.size(); ++k) {
        float gmax = 0;
        for (size_t i = 0; i < t[k].size(); ++i) gmax = std::max(gmax, std::fabs(analytic[k][i]));
        for (int s = 0; s < 8; ++s) {
            const size_t i = std::min(t[k].size() - 1, static_cast<size_t>(pick(rng) * double(t[k].size())));
            const float orig = t[k][i], h = 1e-2f;
            t[k][i] = orig + h;
            const double up = objective(t);
            t[k][i] = orig - h;
            const double down = objective(t);
            t[k][i] = orig;
            const double fd = (up - down) / (double(orig + h) - double(orig - h));
            EXPECT_NEAR(analytic[k][i], fd, 3e-3 * gmax + 3e-4) << L.names[k] << "[" << i << "]";
        }
    }
}

}  // namespace

TEST(LayerContract, LinearWithBias) {
    const int64_t M = 3, K = 5, N = 4;
    vit::layers::Linear lin(M, K, N, true, vit::layers::Epilogue::None, true);
    LayerUnderTest L{{"x", "weight", "bias"}, {randn(M * K, 1), randn(N * K, 2, 0.5f), randn(N, 3)}, size_t(M * N), {}, {}};
    L.forward = [&](const Tensors& t, std::vector<float>& y) { lin.forward(t[0].data(), t[1].data(), t[2].data(), y.data()); };
    L.backward = [&](const Tensors& t, const std::vector<float>& dy, std::vector<float>& dx, Tensors& d) {
        lin.backward(t[0].data(), t[1].data(), dy.data(), dx.data(), d[0].data(), d[1].data());
    };
    check_layer(L);
}

TEST(LayerContract, LayerNorm) {
    const int64_t M = 4, C = 6;
    vit::layers::LayerNorm ln(M, C, 1e-6f, true);
    std::vector<float> mean(M), var(M);
    LayerUnderTest L{{"x", "gamma", "beta"}, {randn(M * C, 4, 2.0f), randn(C, 5), randn(C, 6)}, size_t(M * C), {}, {}};
    L.forward = [&](const Tensors& t, std::vector<float>& y) {
        ln.forward(t[0].data(), t[1].data(), t[2].data(), y.data(), mean.data(), var.data());
    };
    L.backward = [&](const Tensors& t, const std::vector<float>& dy, std::vector<float>& dx, Tensors& d) {
        ln.backward(t[0].data(), mean.data(), var.data(), t[1].data(), dy.data(), dx.data(), d[0].data(), d[1].data());
    };
    check_layer(L);
}

class ActivationContract : public ::testing::TestWithParam<vit::Activation> {};

TEST_P(ActivationContract, MatchesFiniteDifferences) {
    const int64_t n = 40;
    vit::layers::Gelu act(n, GetParam());
    LayerUnderTest L{{"x"}, {randn(n, 7, 2.0f)}, size_t(n), {}, {}};
    L.forward = [&](const Tensors& t, std::vector<float>& y) { act.forward(t[0].data(), y.data()); };
    L.backward = [&](const Tensors& t, const std::vector<float>& dy, std::vector<float>& dx, Tensors&) {
        act.backward(t[0].data(), dy.data(), dx.data());
    };
    check_layer(L);
}

INSTANTIATE_TEST_SUITE_P(LayerContract, ActivationContract,
                         ::testing::Values(vit::Activation::Gelu, vit::Activation::QuickGelu, vit::Activation::GeluTanh),
                         [](const ::testing::TestParamInfo<vit::Activation>& info) {
                             return std::string(vit::to_string(info.param));
                         });

TEST(LayerContract, Softmax) {
    const int64_t R = 3, C = 5;
    vit::layers::Softmax sm({R, C}, true);
    std::vector<float> saved(R * C);
    LayerUnderTest L{{"x"}, {randn(R * C, 8, 2.0f)}, size_t(R * C), {}, {}};
    L.forward = [&](const Tensors& t, std::vector<float>& y) {
        sm.forward(t[0].data(), y.data());
        saved = y;
    };
    L.backward = [&](const Tensors&, const std::vector<float>& dy, std::vector<float>& dx, Tensors&) {
        sm.backward(saved.data(), dy.data(), dx.data());
    };
    check_layer(L);
}

TEST(Softmax, MatchesADoublePrecisionSoftmaxOnRowsOfEveryLength) {
    // Row lengths below, at and past the 16-float vector, the attention rows of cifar-t (65) and of
    // the 224-pixel models (197), with logits from -30 to 30 as scaled scores reach; in place too.
    for (int64_t n : {1, 5, 16, 17, 65, 197}) {
        const int64_t R = 7;
        vit::layers::Softmax sm({R, n});
        const std::vector<float> x = randn(size_t(R * n), uint32_t(n), 10.0f);
        std::vector<float> y(x.size()), inplace = x;
        sm.forward(x.data(), y.data());
        sm.forward(inplace.data(), inplace.data());
        for (int64_t r = 0; r < R; ++r) {
            double mx = -1e300, sum = 0;
            for (int64_t j = 0; j < n; ++j) mx = std::max(mx, double(x[size_t(r * n + j)]));
            for (int64_t j = 0; j < n; ++j) sum += std::exp(double(x[size_t(r * n + j)]) - mx);
            for (int64_t j = 0; j < n; ++j) {
                const size_t i = size_t(r * n + j);
                const double want = std::exp(double(x[i]) - mx) / sum;
                // Rounding x - max to f32 moves e^(x - max) by up to half an ulp of |x - max|, relative
                // (6e-8 |x - max|); the exponential and the normalisation add a few ulps (1e-6). Below
                // AVX2 oneDNN's own softmax runs, whose exponential is less exact (3.3e-6 relative seen
                // under ONEDNN_MAX_CPU_ISA=SSE41, at probabilities of 1e-15).
                const double exp_error = vit::cpu::vector_level() == vit::cpu::Vectors::Baseline ? 5e-6 : 1e-6;
                const double tol = want * (exp_error + 6e-8 * std::fabs(double(x[i]) - mx));
                EXPECT_NEAR(y[i], want, tol) << "n " << n << ", row " << r << ", column " << j;
                EXPECT_EQ(inplace[i], y[i]) << "n " << n << ", row " << r << ", column " << j;
            }
        }
    }
}

TEST(LayerContract, MultiHeadAttentionOnFusedQkv) {
    const int64_t B = 2, T = 3, D = 4, H = 2;
    vit::layers::Attention attn(B, T, D, H, true);
    std::vector<float> att(B * H * T * T), datt(att.size());
    LayerUnderTest L{{"qkv"}, {randn(B * T * 3 * D, 9)}, size_t(B * T * D), {}, {}};
    L.forward = [&](const Tensors& t, std::vector<float>& y) { attn.forward(t[0].data(), att.data(), y.data()); };
    L.backward = [&](const Tensors& t, const std::vector<float>& dy, std::vector<float>& dx, Tensors&) {
        attn.backward(t[0].data(), att.data(), dy.data(), datt.data(), datt.data(), dx.data());
    };
    check_layer(L);
}

TEST(LayerContract, AttentionPoolSkippingPrefixTokens) {
    const int64_t B = 2, T = 4, S = 1, D = 4, H = 2, Hm = 6;
    vit::layers::AttentionPool pool(B, T, S, D, H, Hm, 1e-6f, vit::Activation::Gelu, true);
    const std::vector<std::string> names{"x",      "latent", "q.weight",    "q.bias",    "kv.weight",
                                         "kv.bias", "proj.weight", "proj.bias", "norm.weight", "norm.bias",
                                         "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    const std::vector<int64_t> sizes{B * T * D, D, D * D, D, 2 * D * D, 2 * D, D * D, D, D, D, Hm * D, Hm, D * Hm, D};
    LayerUnderTest L{names, {}, size_t(B * D), {}, {}};
    for (size_t k = 0; k < sizes.size(); ++k) L.tensors.push_back(randn(size_t(sizes[k]), 20 + unsigned(k), 0.7f));
    auto params = [](const Tensors& t) {
        return vit::layers::AttentionPool::Params{t[1].data(), t[2].data(), t[3].data(),  t[4].data(),  t[5].data(),
                                                  t[6].data(), t[7].data(), t[8].data(),  t[9].data(),  t[10].data(),
                                                  t[11].data(), t[12].data(), t[13].data()};
    };
    L.forward = [&](const Tensors& t, std::vector<float>& y) { pool.forward(params(t), t[0].data(), y.data()); };
    L.backward = [&](const Tensors& t, const std::vector<float>& dy, std::vector<float>& dx, Tensors& d) {
        const vit::layers::AttentionPool::Grads g{d[0].data(), d[1].data(), d[2].data(),  d[3].data(),  d[4].data(),
                                                  d[5].data(), d[6].data(), d[7].data(),  d[8].data(),  d[9].data(),
                                                  d[10].data(), d[11].data(), d[12].data()};
        pool.backward(params(t), t[0].data(), dy.data(), dx.data(), g);
    };
    check_layer(L);
    // The skipped (prefix) rows get exactly zero gradient.
    std::vector<float> y(B * D), dy = randn(B * D, 40), dx(B * T * D, 7.0f);
    Tensors d;
    for (size_t k = 1; k < sizes.size(); ++k) d.emplace_back(size_t(sizes[k]), 0.0f);
    L.forward(L.tensors, y);
    L.backward(L.tensors, dy, dx, d);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < S * D; ++j) EXPECT_EQ(dx[size_t(b * T * D + j)], 0.0f);
}

TEST(LayerContract, DropoutUnderAFixedKey) {
    const int64_t n = 64;
    vit::layers::Dropout drop(0.3f);
    LayerUnderTest L{{"x"}, {randn(n, 30)}, size_t(n), {}, {}};
    L.forward = [&](const Tensors& t, std::vector<float>& y) { drop.apply(t[0].data(), y.data(), n, 99); };
    L.backward = [&](const Tensors&, const std::vector<float>& dy, std::vector<float>& dx, Tensors&) {
        drop.apply(dy.data(), dx.data(), n, 99);
    };
    check_layer(L);
}
