// Saliency methods beyond rollout (saliency.hpp, attention_maps.hpp): Chefer et al.'s relevance rule and the
// last block's attention against their definitions computed in double, occlusion against one
// double-precision reference forward per occluded patch, the product against its two factors, and the
// baselines a removed patch becomes.
#include <algorithm>
#include <cfloat>
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

// ---- The LRP methods against double-precision computations of their own definitions ----

using vit::reference::Mat;

// Two tiny models: a class token with a register token (token pooling), and no class token with mean
// pooling and fc_norm.
// Class token with a register (Token), mean pooling with fc_norm (Avg), or SigLIP's attention pool
// over the final-normed tokens (Map).
vit::ViTConfig tiny_config(vit::GlobalPool pool) {
    vit::ViTConfig c;
    c.img_h = c.img_w = 8;
    c.patch_size = 4;
    c.num_classes = 3;
    c.embed_dim = 8;
    c.depth = 2;
    c.num_heads = 2;
    c.mlp_ratio = 2.0;
    if (pool == vit::GlobalPool::Token) {
        c.reg_tokens = 1;
    } else {
        c.class_token = false;
        c.global_pool = pool;
        c.fc_norm = pool == vit::GlobalPool::Avg;
    }
    return c;
}

vit::ViTConfig tiny_config(bool class_token) {
    return tiny_config(class_token ? vit::GlobalPool::Token : vit::GlobalPool::Avg);
}

double gelu(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

// Every activation of one image's forward from its input embedding, in double. With `frozen` (a
// trace of the same model), the forward AttnLRP linearises: each LayerNorm divides by frozen's
// standard deviations, GELU multiplies by frozen's gain act(x)/x, and both attention products are the
// mean of the two one-sided products with one operand frozen (s = (q k̄ + q̄ k) / 2 · scale,
// ctx = (A v̄ + Ā v) / 2). Its value at frozen's input is the model's; its gradient is AttnLRP's.
struct Trace {
    struct Block {
        Mat x_in, ln1, qkv, A, ctx, x_mid, ln2, hpre, hact, x_out;
        std::vector<double> sd1, sd2;
    };
    std::vector<Block> blocks;
    Mat pooled, pooled_ln, logits;
    std::vector<double> sd_fin;
    // Attention pool (map): the final norm of every token, then the pool's values, attention and MLP.
    Mat tokens_ln, pool_q, pool_kv, pool_A, pool_o, pool_y0, pool_ln, pool_hpre, pool_h;
    std::vector<double> sd_tokens, sd_pool;
};

Mat norm_rows(const Mat& x, int M, int C, const float* g, const float* b, double eps, std::vector<double>& sd,
              const std::vector<double>* frozen) {
    Mat y(x.size());
    sd.assign(size_t(M), 0.0);
    for (int m = 0; m < M; ++m) {
        double mean = 0, var = 0;
        for (int c = 0; c < C; ++c) mean += x[size_t(m * C + c)] / C;
        for (int c = 0; c < C; ++c) var += (x[size_t(m * C + c)] - mean) * (x[size_t(m * C + c)] - mean) / C;
        sd[size_t(m)] = std::sqrt(var + eps);
        const double s = frozen ? (*frozen)[size_t(m)] : sd[size_t(m)];
        for (int c = 0; c < C; ++c) y[size_t(m * C + c)] = (x[size_t(m * C + c)] - mean) / s * g[c] + b[c];
    }
    return y;
}

Trace trace_forward(const vit::Model& model, const Mat& e, const Trace* frozen = nullptr) {
    const vit::ViTConfig& c = model.config();
    auto p = [&](const std::string& n) { return model.params().get(n); };
    const int D = c.embed_dim, T = c.num_tokens(), H = c.num_heads, hd = c.head_dim(), Hm = c.mlp_hidden();
    const double eps = c.ln_eps;
    Trace t;
    Mat x = e;
    for (int i = 0; i < c.depth; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".";
        const Trace::Block* f = frozen ? &frozen->blocks[size_t(i)] : nullptr;
        Trace::Block k;
        k.x_in = x;
        k.ln1 = norm_rows(x, T, D, p(b + "norm1.weight"), p(b + "norm1.bias"), eps, k.sd1, f ? &f->sd1 : nullptr);
        k.qkv = vit::reference::linear(k.ln1, T, D, p(b + "attn.qkv.weight"), p(b + "attn.qkv.bias"), 3 * D);
        k.A.assign(size_t(H * T * T), 0.0);
        k.ctx.assign(size_t(T * D), 0.0);
        const Mat& fq = f ? f->qkv : k.qkv;
        auto at = [&](const Mat& m, int tok, int part, int h, int d) { return m[size_t(tok * 3 * D + part * D + h * hd + d)]; };
        for (int h = 0; h < H; ++h)
            for (int r = 0; r < T; ++r) {
                std::vector<double> s(static_cast<size_t>(T));
                double mx = -1e300, sum = 0;
                for (int j = 0; j < T; ++j) {
                    double v = 0;
                    for (int d = 0; d < hd; ++d)
                        v += f ? 0.5 * (at(k.qkv, r, 0, h, d) * at(fq, j, 1, h, d) + at(fq, r, 0, h, d) * at(k.qkv, j, 1, h, d))
                               : at(k.qkv, r, 0, h, d) * at(k.qkv, j, 1, h, d);
                    s[size_t(j)] = v / std::sqrt(double(hd));
                    mx = std::max(mx, s[size_t(j)]);
                }
                for (double& v : s) sum += v = std::exp(v - mx);
                for (int j = 0; j < T; ++j) k.A[size_t((h * T + r) * T + j)] = s[size_t(j)] / sum;
            }
        for (int h = 0; h < H; ++h)
            for (int r = 0; r < T; ++r)
                for (int j = 0; j < T; ++j) {
                    const double a = k.A[size_t((h * T + r) * T + j)];
                    for (int d = 0; d < hd; ++d)
                        k.ctx[size_t(r * D + h * hd + d)] +=
                            f ? 0.5 * (a * at(fq, j, 2, h, d) + f->A[size_t((h * T + r) * T + j)] * at(k.qkv, j, 2, h, d))
                              : a * at(k.qkv, j, 2, h, d);
                }
        const Mat o = vit::reference::linear(k.ctx, T, D, p(b + "attn.proj.weight"), p(b + "attn.proj.bias"), D);
        for (size_t q = 0; q < x.size(); ++q) x[q] += o[q];
        k.x_mid = x;
        k.ln2 = norm_rows(x, T, D, p(b + "norm2.weight"), p(b + "norm2.bias"), eps, k.sd2, f ? &f->sd2 : nullptr);
        k.hpre = vit::reference::linear(k.ln2, T, D, p(b + "mlp.fc1.weight"), p(b + "mlp.fc1.bias"), Hm);
        k.hact = k.hpre;
        for (size_t q = 0; q < k.hact.size(); ++q) {
            const double fp = f ? f->hpre[q] : 0.0;
            k.hact[q] = f ? k.hpre[q] * (fp != 0.0 ? gelu(fp) / fp : 0.5) : gelu(k.hpre[q]);
        }
        const Mat m = vit::reference::linear(k.hact, T, Hm, p(b + "mlp.fc2.weight"), p(b + "mlp.fc2.bias"), D);
        for (size_t q = 0; q < x.size(); ++q) x[q] += m[q];
        k.x_out = x;
        t.blocks.push_back(std::move(k));
    }
    const std::vector<double>* fsd = frozen ? &frozen->sd_fin : nullptr;
    if (c.global_pool == vit::GlobalPool::Token) {
        t.pooled = Mat(x.begin(), x.begin() + D);
        t.pooled_ln = norm_rows(t.pooled, 1, D, p("norm.weight"), p("norm.bias"), eps, t.sd_fin, fsd);
    } else if (c.global_pool == vit::GlobalPool::Map) {
        // One learned query, a parameter: q kᵀ is linear in k, so only o = Σ a v is split when frozen.
        t.tokens_ln = norm_rows(x, T, D, p("norm.weight"), p("norm.bias"), eps, t.sd_tokens,
                                frozen ? &frozen->sd_tokens : nullptr);
        const Mat& src = t.tokens_ln;
        auto a = [&](const std::string& n) { return p("attn_pool." + n); };
        const int pre = c.num_prefix(), N = T - pre;
        t.pool_q = vit::reference::linear(Mat(a("latent"), a("latent") + D), 1, D, a("q.weight"), a("q.bias"), D);
        const Mat& q = t.pool_q;
        t.pool_kv = vit::reference::linear(Mat(src.begin() + size_t(pre) * D, src.end()), N, D, a("kv.weight"),
                                           a("kv.bias"), 2 * D);
        const Mat& fkv = frozen ? frozen->pool_kv : t.pool_kv;
        t.pool_A.assign(size_t(H * N), 0.0);
        Mat o(size_t(D), 0.0);
        for (int h = 0; h < H; ++h) {
            double mx = -1e300, sum = 0;
            double* s = t.pool_A.data() + h * N;
            for (int n = 0; n < N; ++n) {
                for (int d = 0; d < hd; ++d) s[n] += q[size_t(h * hd + d)] * t.pool_kv[size_t(n * 2 * D + h * hd + d)];
                s[n] /= std::sqrt(double(hd));
                mx = std::max(mx, s[n]);
            }
            for (int n = 0; n < N; ++n) sum += s[n] = std::exp(s[n] - mx);
            for (int n = 0; n < N; ++n) s[n] /= sum;
            for (int n = 0; n < N; ++n)
                for (int d = 0; d < hd; ++d) {
                    const size_t v = size_t(n * 2 * D + D + h * hd + d);
                    o[size_t(h * hd + d)] += frozen ? 0.5 * (s[n] * fkv[v] + frozen->pool_A[size_t(h * N + n)] * t.pool_kv[v])
                                                    : s[n] * t.pool_kv[v];
                }
        }
        t.pool_o = o;
        t.pool_y0 = vit::reference::linear(o, 1, D, a("proj.weight"), a("proj.bias"), D);
        t.pool_ln = norm_rows(t.pool_y0, 1, D, a("norm.weight"), a("norm.bias"), eps, t.sd_pool,
                              frozen ? &frozen->sd_pool : nullptr);
        t.pool_hpre = vit::reference::linear(t.pool_ln, 1, D, a("mlp.fc1.weight"), a("mlp.fc1.bias"), Hm);
        t.pool_h = t.pool_hpre;
        for (size_t i = 0; i < t.pool_h.size(); ++i) {
            const double fp = frozen ? frozen->pool_hpre[i] : 0.0;
            t.pool_h[i] = frozen ? t.pool_hpre[i] * (fp != 0.0 ? gelu(fp) / fp : 0.5) : gelu(t.pool_hpre[i]);
        }
        const Mat m = vit::reference::linear(t.pool_h, 1, Hm, a("mlp.fc2.weight"), a("mlp.fc2.bias"), D);
        t.pooled = t.pool_y0;
        for (int d = 0; d < D; ++d) t.pooled[size_t(d)] += m[size_t(d)];
        t.pooled_ln = t.pooled;
    } else {  // mean of the patch tokens, then fc_norm
        t.pooled.assign(size_t(D), 0.0);
        for (int tok = c.num_prefix(); tok < T; ++tok)
            for (int d = 0; d < D; ++d) t.pooled[size_t(d)] += x[size_t(tok * D + d)] / c.num_patches();
        t.pooled_ln = norm_rows(t.pooled, 1, D, p("fc_norm.weight"), p("fc_norm.bias"), eps, t.sd_fin, fsd);
    }
    t.logits = vit::reference::linear(t.pooled_ln, 1, D, p("head.weight"), p("head.bias"), c.num_classes);
    return t;
}

// Transformer-Explainability's safe_divide.
double sdiv(double a, double b) { return b == 0.0 ? 0.0 : a / (b + 1e-9); }

// Alpha-beta (alpha 1, beta 0) relevance through y = x Wᵀ + b, x (M, K), W (N, K), R (M, N).
Mat alpha_beta(const Mat& x, int M, int K, const float* W, int N, const Mat& R) {
    Mat out(size_t(M * K), 0.0);
    for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
            double z = 0;
            for (int k = 0; k < K; ++k) {
                const double xv = x[size_t(m * K + k)], w = W[size_t(n * K + k)];
                z += xv > 0 ? xv * std::max(w, 0.0) : xv * std::min(w, 0.0);
            }
            const double s = sdiv(R[size_t(m * N + n)], z);
            for (int k = 0; k < K; ++k) {
                const double xv = x[size_t(m * K + k)], w = W[size_t(n * K + k)];
                out[size_t(m * K + k)] += (xv > 0 ? xv * std::max(w, 0.0) : xv * std::min(w, 0.0)) * s;
            }
        }
    return out;
}

// The residual add z = a + b: R ⊙ a / z and R ⊙ b / z, each rescaled to its share of ΣR.
void add_relevance(const Mat& a, const Mat& z, const Mat& R, Mat& ra, Mat& rb) {
    ra.assign(a.size(), 0.0);
    rb.assign(a.size(), 0.0);
    double sa = 0, sb = 0, sr = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ra[i] = a[i] * sdiv(R[i], z[i]);
        rb[i] = (z[i] - a[i]) * sdiv(R[i], z[i]);
        sa += ra[i];
        sb += rb[i];
        sr += R[i];
    }
    const double fa = sdiv(sdiv(std::abs(sa), std::abs(sa) + std::abs(sb)) * sr, sa);
    const double fb = sdiv(sdiv(std::abs(sb), std::abs(sa) + std::abs(sb)) * sr, sb);
    for (size_t i = 0; i < a.size(); ++i) {
        ra[i] *= fa;
        rb[i] *= fb;
    }
}

// Chefer et al.'s LRP relevance of every block's attention (H, T, T), from a one-hot at class k, by
// the rules of their code: alpha-beta Linears, LayerNorm, GELU and softmax passing relevance on, the
// rescaled add rule, the gradient rule (halved) through both attention products.
std::vector<Mat> chefer_lrp_reference(const vit::Model& model, const Trace& t, int k) {
    const vit::ViTConfig& c = model.config();
    auto p = [&](const std::string& n) { return model.params().get(n); };
    const int D = c.embed_dim, T = c.num_tokens(), H = c.num_heads, hd = c.head_dim(), Hm = c.mlp_hidden();
    Mat onehot(size_t(c.num_classes), 0.0);
    onehot[size_t(k)] = 1.0;
    const Mat r_feat = alpha_beta(t.pooled_ln, 1, D, p("head.weight"), c.num_classes, onehot);
    const Mat& r_pool = r_feat;  // the final norm passes it on
    Mat R(size_t(T * D), 0.0);
    const Mat& x_last = t.blocks.back().x_out;
    if (c.global_pool == vit::GlobalPool::Token) {
        std::copy(r_pool.begin(), r_pool.end(), R.begin());
    } else if (c.global_pool == vit::GlobalPool::Map) {
        // The pool by the same rules: y = y0 + fc2(GELU(fc1(norm(y0)))) by the add rule and alpha-beta,
        // y0 = proj(o), o = A V (halves), the scores q·k with the query's half dropped, then kv.
        auto a = [&](const std::string& n) { return p("attn_pool." + n); };
        const int pre = c.num_prefix(), N = T - pre;
        Mat ra, rb;
        add_relevance(t.pool_y0, t.pooled, r_pool, ra, rb);
        const Mat rh = alpha_beta(t.pool_h, 1, Hm, a("mlp.fc2.weight"), D, rb);
        const Mat rn = alpha_beta(t.pool_ln, 1, D, a("mlp.fc1.weight"), Hm, rh);
        for (int d = 0; d < D; ++d) ra[size_t(d)] += rn[size_t(d)];
        const Mat ro = alpha_beta(t.pool_o, 1, D, a("proj.weight"), D, ra);
        Mat rkv(size_t(N * 2 * D), 0.0);
        for (int h = 0; h < H; ++h)
            for (int n = 0; n < N; ++n) {
                const double A = t.pool_A[size_t(h * N + n)];
                double tv = 0, z = 0;
                for (int d = 0; d < hd; ++d) {
                    const size_t k = size_t(n * 2 * D + h * hd + d), v = k + size_t(D);
                    const double s = sdiv(ro[size_t(h * hd + d)], t.pool_o[size_t(h * hd + d)]);
                    tv += s * t.pool_kv[v];
                    rkv[v] = 0.5 * t.pool_kv[v] * A * s;
                    z += t.pool_q[size_t(h * hd + d)] * t.pool_kv[k];
                }
                const double s3 = sdiv(0.5 * A * tv, z);
                for (int d = 0; d < hd; ++d) {
                    const size_t k = size_t(n * 2 * D + h * hd + d);
                    rkv[k] = 0.5 * t.pool_kv[k] * s3 * t.pool_q[size_t(h * hd + d)];
                }
            }
        const Mat rsrc = alpha_beta(Mat(t.tokens_ln.begin() + size_t(pre) * D, t.tokens_ln.end()), N, D,
                                    a("kv.weight"), 2 * D, rkv);
        std::copy(rsrc.begin(), rsrc.end(), R.begin() + size_t(pre) * D);
    } else {
        for (int tok = c.num_prefix(); tok < T; ++tok)
            for (int d = 0; d < D; ++d)
                R[size_t(tok * D + d)] = x_last[size_t(tok * D + d)] * sdiv(r_pool[size_t(d)], t.pooled[size_t(d)]) / c.num_patches();
    }
    std::vector<Mat> out(size_t(c.depth));
    for (int i = c.depth - 1; i >= 0; --i) {
        const Trace::Block& k2 = t.blocks[size_t(i)];
        const std::string b = "blocks." + std::to_string(i) + ".";
        Mat ra, rb;
        add_relevance(k2.x_mid, k2.x_out, R, ra, rb);
        const Mat rh = alpha_beta(k2.hact, T, Hm, p(b + "mlp.fc2.weight"), D, rb);
        Mat rn = alpha_beta(k2.ln2, T, D, p(b + "mlp.fc1.weight"), Hm, rh);
        for (size_t q = 0; q < R.size(); ++q) R[q] = ra[q] + rn[q];
        add_relevance(k2.x_in, k2.x_mid, R, ra, rb);
        const Mat rctx = alpha_beta(k2.ctx, T, D, p(b + "attn.proj.weight"), D, rb);
        Mat RA(size_t(H * T * T)), rqkv(size_t(T * 3 * D), 0.0);
        auto at = [&](int tok, int part, int h, int d) { return k2.qkv[size_t(tok * 3 * D + part * D + h * hd + d)]; };
        for (int h = 0; h < H; ++h) {
            auto A = [&](int r, int j) { return k2.A[size_t((h * T + r) * T + j)]; };
            for (int r = 0; r < T; ++r)
                for (int j = 0; j < T; ++j) {
                    double s = 0;
                    for (int d = 0; d < hd; ++d)
                        s += sdiv(rctx[size_t(r * D + h * hd + d)], k2.ctx[size_t(r * D + h * hd + d)]) * at(j, 2, h, d);
                    RA[size_t((h * T + r) * T + j)] = 0.5 * A(r, j) * s;
                }
            for (int j = 0; j < T; ++j)
                for (int d = 0; d < hd; ++d) {
                    double s = 0;
                    for (int r = 0; r < T; ++r)
                        s += A(r, j) * sdiv(rctx[size_t(r * D + h * hd + d)], k2.ctx[size_t(r * D + h * hd + d)]);
                    rqkv[size_t(j * 3 * D + 2 * D + h * hd + d)] = 0.5 * at(j, 2, h, d) * s;
                }
            // The softmax passes R_A on; then Q Kᵀ (unscaled).
            Mat s3(size_t(T * T));
            for (int r = 0; r < T; ++r)
                for (int j = 0; j < T; ++j) {
                    double z = 0;
                    for (int d = 0; d < hd; ++d) z += at(r, 0, h, d) * at(j, 1, h, d);
                    s3[size_t(r * T + j)] = sdiv(RA[size_t((h * T + r) * T + j)], z);
                }
            for (int r = 0; r < T; ++r)
                for (int d = 0; d < hd; ++d) {
                    double tq = 0, tk = 0;
                    for (int j = 0; j < T; ++j) {
                        tq += s3[size_t(r * T + j)] * at(j, 1, h, d);
                        tk += s3[size_t(j * T + r)] * at(j, 0, h, d);
                    }
                    rqkv[size_t(r * 3 * D + h * hd + d)] = 0.5 * at(r, 0, h, d) * tq;
                    rqkv[size_t(r * 3 * D + D + h * hd + d)] = 0.5 * at(r, 1, h, d) * tk;
                }
        }
        out[size_t(i)] = RA;
        rn = alpha_beta(k2.ln1, T, D, p(b + "attn.qkv.weight"), 3 * D, rqkv);
        for (size_t q = 0; q < R.size(); ++q) R[q] = ra[q] + rn[q];
    }
    return out;
}

std::vector<float> random_images(const vit::ViTConfig& c, int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(size_t(n) * c.in_chans * c.img_h * c.img_w);
    for (float& v : x) v = g(rng);
    return x;
}

class LrpOnTinyModels : public testing::TestWithParam<vit::GlobalPool> {};

// The gradient d logit_k / dA comes from the library's capture (checked against PyTorch elsewhere);
// the LRP relevance it multiplies is computed here from the rules alone, in double.
TEST_P(LrpOnTinyModels, CheferLrpMatchesADoublePrecisionRelevancePass) {
    const vit::ViTConfig c = tiny_config(GetParam());
    const vit::Model model = vit::reference::random_model(c, 7);
    const int n = 2, T = c.num_tokens(), H = c.num_heads, P = c.num_patches(), pre = c.num_prefix();
    const std::vector<float> x = random_images(c, n, 11);
    const std::vector<int> classes{0, 2};
    vit::SaliencySpec spec;
    spec.method = vit::SaliencyMethod::Chefer2021Lrp;
    vit::SaliencyMaps maps(model, 3, {spec});  // a batch larger than n: absent rows must not matter
    const vit::Tensor got = maps.compute(x.data(), n, classes)[0];
    ASSERT_EQ(got.shape, (vit::Shape{n, P}));
    vit::Tensor xt({n, c.in_chans, c.img_h, c.img_w}, x);
    const vit::AttentionCapture cap = vit::capture_attention(model, xt, classes, n, true);
    const size_t image = size_t(c.in_chans) * c.img_h * c.img_w;
    for (int i = 0; i < n; ++i) {
        const Trace t = trace_forward(model, vit::reference::embed(model, x.data() + i * image));
        const std::vector<Mat> RA = chefer_lrp_reference(model, t, classes[size_t(i)]);
        // One image's relevance and gradient tensors, for chefer_reference's rollout.
        std::vector<vit::Tensor> rel, grad;
        for (int b = 0; b < c.depth; ++b) {
            rel.emplace_back(vit::Shape{1, H, T, T}, std::vector<float>(RA[size_t(b)].begin(), RA[size_t(b)].end()));
            const float* g = cap.grad[size_t(b)].ptr() + size_t(i) * H * T * T;
            grad.emplace_back(vit::Shape{1, H, T, T}, std::vector<float>(g, g + H * T * T));
        }
        const std::vector<double> R = chefer_reference(rel, grad, 0, H, T);
        std::vector<double> want(size_t(P), 0.0);
        for (int j = 0; j < P; ++j)
            for (int r = 0; r < (c.class_token ? 1 : T); ++r) want[size_t(j)] += R[size_t(r * T + pre + j)] / (c.class_token ? 1 : T);
        // Without a class token the mean of the rows carries the identity's 1/T on every patch, and
        // through an attention pool the relevance on top of it is small: the tolerance is a share of
        // the map's range, but no finer than a few float steps at the map's values, and the range must
        // be well above that.
        const auto [lo, hi] = std::minmax_element(want.begin(), want.end());
        const double resolution = 4 * FLT_EPSILON * std::abs(*hi);
        ASSERT_GT(*hi - *lo, 10 * resolution) << "a map without contrast would not test the rules";
        for (int j = 0; j < P; ++j)
            EXPECT_NEAR(got.data[size_t(i * P + j)], want[size_t(j)], std::max(1e-3 * (*hi - *lo), resolution))
                << "image " << i << " patch " << j << ", map range " << *hi - *lo;
    }
}

class AttnLrpOnTinyModels : public testing::TestWithParam<vit::GlobalPool> {};

// AttnLRP's relevance is gradient x input of the forward it linearises (Trace's frozen forward), here
// differentiated by central differences at the input embedding.
TEST_P(AttnLrpOnTinyModels, RelevanceIsGradientTimesInputOfTheLinearisedForward) {
    const vit::ViTConfig c = tiny_config(GetParam());
    const vit::Model model = vit::reference::random_model(c, 5);
    const int n = 2, T = c.num_tokens(), D = c.embed_dim, P = c.num_patches(), pre = c.num_prefix();
    const std::vector<float> x = random_images(c, n, 13);
    const std::vector<int> classes{1, 2};
    vit::SaliencySpec spec;
    spec.method = vit::SaliencyMethod::AttnLrp;
    vit::SaliencyMaps maps(model, 3, {spec});
    const vit::Tensor got = maps.compute(x.data(), n, classes)[0];
    ASSERT_EQ(got.shape, (vit::Shape{n, P}));
    const size_t image = size_t(c.in_chans) * c.img_h * c.img_w;
    for (int i = 0; i < n; ++i) {
        const Mat e = vit::reference::embed(model, x.data() + i * image);
        const Trace clean = trace_forward(model, e);
        const int k = classes[size_t(i)];
        EXPECT_NEAR(trace_forward(model, e, &clean).logits[size_t(k)], clean.logits[size_t(k)], 1e-12);
        std::vector<double> want(size_t(P), 0.0);
        double scale = 0;
        for (int tok = pre; tok < T; ++tok) {
            for (int d = 0; d < D; ++d) {
                const double h = 1e-5;
                Mat up = e, down = e;
                up[size_t(tok * D + d)] += h;
                down[size_t(tok * D + d)] -= h;
                const double g = (trace_forward(model, up, &clean).logits[size_t(k)] -
                                  trace_forward(model, down, &clean).logits[size_t(k)]) / (2 * h);
                want[size_t(tok - pre)] += e[size_t(tok * D + d)] * g;
            }
            scale = std::max(scale, std::abs(want[size_t(tok - pre)]));
        }
        for (int j = 0; j < P; ++j)
            EXPECT_NEAR(got.data[size_t(i * P + j)], want[size_t(j)], 1e-4 * scale) << "image " << i << " patch " << j;
    }
}

std::string pooling_name(const testing::TestParamInfo<vit::GlobalPool>& p) {
    return p.param == vit::GlobalPool::Token ? "ClassToken" : p.param == vit::GlobalPool::Avg ? "MeanPooling" : "AttentionPool";
}
INSTANTIATE_TEST_SUITE_P(ClassTokenMeanAndAttentionPool, LrpOnTinyModels,
                         testing::Values(vit::GlobalPool::Token, vit::GlobalPool::Avg, vit::GlobalPool::Map),
                         pooling_name);
INSTANTIATE_TEST_SUITE_P(ClassTokenMeanAndAttentionPool, AttnLrpOnTinyModels,
                         testing::Values(vit::GlobalPool::Token, vit::GlobalPool::Avg, vit::GlobalPool::Map),
                         pooling_name);

TEST(Saliency, AttnLrpRefusesBf16) {
    const vit::Model model = vit::reference::random_model(tiny_config(true), 3);
    vit::SaliencySpec spec;
    spec.method = vit::SaliencyMethod::AttnLrp;
    EXPECT_THROW(vit::SaliencyMaps(model, 1, {spec}, vit::Baseline::Zero, vit::Dtype::BF16), vit::ConfigError);
}

TEST(PatchBaseline, CopyPatchMovesOnlyThatPatchInEveryChannel) {
    vit::ViTConfig c;
    c.img_h = 8;
    c.img_w = 12;
    c.patch_size = 4;
    c.in_chans = 2;
    std::vector<float> src(2 * 8 * 12, 1.0f), dst(src.size(), 0.0f);
    vit::copy_patch(c, 4, src.data(), dst.data());  // grid 2 x 3: patch 4 is row 1, column 1
    for (int ch = 0; ch < 2; ++ch)
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 12; ++x) {
                const bool inside = y >= 4 && x >= 4 && x < 8;
                EXPECT_EQ(dst[size_t((ch * 8 + y) * 12 + x)], inside ? 1.0f : 0.0f) << ch << " " << y << " " << x;
            }
}

TEST(Logits, OneHotRowsMarksEachImagesClassAndRefusesOneOutOfRange) {
    std::vector<float> dz(2, 7.0f);
    vit::one_hot_rows({2, 0}, 3, 3, dz, "test");
    EXPECT_EQ(dz, (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 0, 0}));  // the third (absent) row stays zero
    try {
        vit::one_hot_rows({3}, 3, 1, dz, "test");
        ADD_FAILURE() << "class 3 of 3 accepted";
    } catch (const vit::ConfigError& e) {
        EXPECT_STREQ(e.what(), "test: class 3 out of range [0, 3)");
    }
}

}  // namespace

// The methods' and the scored maps' names live in the library, once: each parses back to what it names,
// and an unknown name is a ConfigError that lists them.
TEST(Saliency, EveryMethodNameParsesBackToItsMethodAndUnknownNamesAreRefused) {
    const std::vector<std::string> names = vit::saliency_method_names();
    ASSERT_EQ(names.size(), 9u);
    for (const std::string& n : names) EXPECT_EQ(vit::to_string(vit::parse_saliency_method(n)), n);
    try {
        vit::parse_saliency_method("gradcam");
        ADD_FAILURE() << "an unknown method was accepted";
    } catch (const vit::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("grad-rollout-x-occlusion"), std::string::npos) << e.what();
    }
    const std::vector<std::string> keys = vit::scored_map_keys();
    const std::vector<vit::ScoredMap> all = vit::all_scored_maps();
    ASSERT_EQ(keys.size(), all.size());
    for (size_t i = 0; i < keys.size(); ++i)
        EXPECT_EQ(vit::scored_map_name(vit::parse_scored_map(keys[i]), 0), vit::scored_map_name(all[i], 0)) << keys[i];
    EXPECT_THROW(vit::parse_scored_map("centre-prior"), vit::ConfigError);
    EXPECT_TRUE(vit::builds_per_block(vit::SaliencyMethod::Chefer2021));
    EXPECT_FALSE(vit::builds_per_block(vit::SaliencyMethod::AttnLrp));
}
