// Batch and image augmentations of the training loader: mixup and cutmix against hand-computed
// values (timm's Mixup in 'batch' mode), the soft-target cross-entropy they need, random erasing's
// geometry, and that all of it is a pure function of (seed, epoch, batch).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "vit/vit.hpp"

namespace {

vit::Dataset ramp_dataset(size_t n, int classes, int size) {
    vit::Dataset d;
    d.channels = 3;
    d.height = d.width = size;
    for (int k = 0; k < classes; ++k) d.classes.push_back("c" + std::to_string(k));
    for (size_t i = 0; i < n; ++i) {
        for (int p = 0; p < size * size * 3; ++p) d.pixels.push_back(static_cast<uint8_t>((i * 37 + size_t(p) * 11) % 256));
        d.labels.push_back(static_cast<int>(i % size_t(classes)));
    }
    return d;
}

}  // namespace

TEST(Mixup, MixedImagesAndTargetsAreTheHandComputedBlend) {
    // Two 1x2x2 images; lam 0.3: each becomes 0.3 of itself plus 0.7 of its mirror in the batch.
    std::vector<float> x{1, 2, 3, 4, 10, 20, 30, 40};
    vit::MixDraw d;
    d.lam = 0.3;
    vit::mix_batch(d, x.data(), 2, 1, 2, 2);
    const std::vector<float> want{7.3f, 14.6f, 21.9f, 29.2f, 3.7f, 7.4f, 11.1f, 14.8f};
    for (size_t k = 0; k < x.size(); ++k) EXPECT_NEAR(x[k], want[k], 1e-5) << k;

    // Labels 0 and 2 of 3 classes, smoothing 0.1: off = 0.1/3, on = 0.9 + 0.1/3.
    const int labels[2] = {0, 2};
    std::vector<float> t(6);
    vit::mix_targets(labels, 2, 3, 0.3, 0.1f, t.data());
    const double off = 0.1 / 3, on = 0.9 + off;
    const std::vector<double> want_t{0.3 * on + 0.7 * off, off, 0.3 * off + 0.7 * on,
                                     0.3 * off + 0.7 * on, off, 0.3 * on + 0.7 * off};
    for (size_t k = 0; k < t.size(); ++k) EXPECT_NEAR(t[k], want_t[k], 1e-6) << k;
}

TEST(Mixup, CutmixBoxIsClippedAndLamIsTheShareLeftUnpasted) {
    // lam 0.75 on 8x8: each side cut by int(8 * sqrt(0.25)) = 4, so 2 either side of the centre.
    const vit::CutBox inside = vit::cutmix_box(0.75, 4, 4, 8, 8);
    EXPECT_EQ(inside.top, 2);
    EXPECT_EQ(inside.bottom, 6);
    EXPECT_EQ(inside.left, 2);
    EXPECT_EQ(inside.right, 6);
    EXPECT_EQ(inside.area(), 16);
    // Centred at (1, 7) the box [-1, 3) x [5, 9) is clipped to [0, 3) x [5, 8): 9 pixels, so the
    // corrected lam is 1 - 9/64, not the drawn 0.75.
    const vit::CutBox corner = vit::cutmix_box(0.75, 1, 7, 8, 8);
    EXPECT_EQ(corner.top, 0);
    EXPECT_EQ(corner.bottom, 3);
    EXPECT_EQ(corner.left, 5);
    EXPECT_EQ(corner.right, 8);
    EXPECT_EQ(corner.area(), 9);

    // Pasting swaps the box between the pair and leaves everything else.
    std::vector<float> x(2 * 64);
    std::iota(x.begin(), x.end(), 0.0f);
    vit::MixDraw d;
    d.lam = 1.0 - 9.0 / 64.0;
    d.cutmix = true;
    d.box = corner;
    vit::mix_batch(d, x.data(), 2, 1, 8, 8);
    for (int y = 0; y < 8; ++y)
        for (int c = 0; c < 8; ++c) {
            const bool in = y < 3 && c >= 5;
            const int k = y * 8 + c;
            EXPECT_EQ(x[size_t(k)], float(in ? 64 + k : k)) << y << "," << c;
            EXPECT_EQ(x[size_t(64 + k)], float(in ? k : 64 + k)) << y << "," << c;
        }

    // Every drawn cutmix carries the corrected lam of its own box.
    vit::MixupConfig cfg;
    cfg.cutmix_alpha = 1.0f;
    int clipped = 0;
    for (uint64_t seed = 0; seed < 500; ++seed) {
        const vit::MixDraw m = vit::draw_mix(cfg, seed, 8, 8);
        ASSERT_TRUE(m.cutmix);
        EXPECT_DOUBLE_EQ(m.lam, 1.0 - m.box.area() / 64.0);
        EXPECT_GE(m.box.top, 0);
        EXPECT_LE(m.box.bottom, 8);
        EXPECT_GE(m.box.left, 0);
        EXPECT_LE(m.box.right, 8);
        clipped += m.box.top == 0 || m.box.left == 0 || m.box.bottom == 8 || m.box.right == 8;
    }
    EXPECT_GT(clipped, 100) << "boxes centred near the edges should be clipped";
}

TEST(Mixup, DrawsFollowTheProbabilitiesAndBetaMoments) {
    vit::MixupConfig cfg;
    cfg.mixup_alpha = 0.8f;
    cfg.cutmix_alpha = 1.0f;
    cfg.switch_prob = 0.3f;
    cfg.prob = 0.6f;
    const int n = 20000;
    int mixed = 0, cut = 0, mix_n = 0;
    double sum = 0, sum_sq = 0;
    for (int s = 0; s < n; ++s) {
        const vit::MixDraw d = vit::draw_mix(cfg, uint64_t(s) * 7919u + 1, 32, 32);
        if (d.lam == 1.0 && !d.cutmix) continue;
        ++mixed;
        if (d.cutmix) {
            ++cut;
            continue;
        }
        ++mix_n;
        sum += d.lam;
        sum_sq += d.lam * d.lam;
    }
    EXPECT_NEAR(double(mixed) / n, 0.6, 0.015);
    EXPECT_NEAR(double(cut) / mixed, 0.3, 0.015);
    // Beta(0.8, 0.8): mean 1/2, variance 1 / (4 (2 * 0.8 + 1)) = 0.0962.
    const double mean = sum / mix_n, var = sum_sq / mix_n - mean * mean;
    EXPECT_NEAR(mean, 0.5, 0.01);
    EXPECT_NEAR(var, 1.0 / (4.0 * 2.6), 0.005);
    cfg.prob = 0.0f;
    EXPECT_EQ(vit::draw_mix(cfg, 3, 32, 32).lam, 1.0);
    cfg.switch_prob = 1.5f;
    EXPECT_THROW(cfg.validate(), vit::ConfigError);
}

TEST(SoftCrossEntropy, GradientMatchesFiniteDifferencesAndHardLabelsAreASpecialCase) {
    const int n = 3, K = 5;
    std::mt19937 rng(4);
    std::normal_distribution<float> g(0.0f, 2.0f);
    std::vector<float> z(n * K), t(n * K), d(n * K);
    for (float& v : z) v = g(rng);
    for (int i = 0; i < n; ++i) {
        float s = 0;
        for (int k = 0; k < K; ++k) s += t[size_t(i * K + k)] = std::fabs(g(rng));
        for (int k = 0; k < K; ++k) t[size_t(i * K + k)] /= s;
    }
    vit::soft_cross_entropy(z.data(), t.data(), n, K, d.data());
    std::vector<float> scratch(n * K);
    const float eps = 1e-2f;
    for (size_t k = 0; k < z.size(); ++k) {
        std::vector<float> zp = z, zm = z;
        zp[k] += eps;
        zm[k] -= eps;
        const double fd = (double(vit::soft_cross_entropy(zp.data(), t.data(), n, K, scratch.data())) -
                           vit::soft_cross_entropy(zm.data(), t.data(), n, K, scratch.data())) /
                          (2.0 * eps);
        EXPECT_NEAR(d[k], fd, 2e-4) << k;
    }
    // Smoothed one-hot targets give the hard-label loss and gradient.
    const int labels[n] = {1, 4, 0};
    std::vector<float> onehot(n * K), d_hard(n * K);
    vit::mix_targets(labels, n, K, 1.0, 0.1f, onehot.data());
    // mix_targets pairs image i with n-1-i; lam 1 keeps only image i's own label.
    const float soft = vit::soft_cross_entropy(z.data(), onehot.data(), n, K, d.data());
    const float hard = vit::cross_entropy(z.data(), labels, n, K, 0.1f, d_hard.data());
    EXPECT_NEAR(soft, hard, 1e-5);
    for (size_t k = 0; k < d.size(); ++k) EXPECT_NEAR(d[k], d_hard[k], 1e-7) << k;
}

TEST(RandomErasing, BoxesStayWithinTimmsAreaAndAspectLimits) {
    vit::RandomErasing cfg;
    cfg.prob = 1.0f;
    const int H = 32, W = 32;
    double min_aspect = 10, max_aspect = 0;
    for (uint64_t seed = 0; seed < 2000; ++seed) {
        std::vector<float> img(3 * H * W, 7.0f);
        const vit::CutBox b = vit::random_erase(cfg, seed, img.data(), 3, H, W);
        const int h = b.bottom - b.top, w = b.right - b.left;
        ASSERT_GT(b.area(), 0) << "some attempt fits a 32x32 image";
        ASSERT_GE(b.top, 0);
        ASSERT_LE(b.bottom, H);
        ASSERT_GE(b.left, 0);
        ASSERT_LE(b.right, W);
        EXPECT_LT(h, H);
        EXPECT_LT(w, W);
        // h and w are sqrt(target * aspect) and sqrt(target / aspect) rounded, so h w is within
        // (h + w + 1) / 2 of target in [0.02, 1/3] of the image, and h / w near [0.3, 1/0.3].
        const double slack = 0.5 * (h + w + 1);
        EXPECT_GE(b.area() + slack, 0.02 * H * W) << h << "x" << w;
        EXPECT_LE(b.area() - slack, H * W / 3.0) << h << "x" << w;
        EXPECT_GE((h + 0.5) / (w - 0.5), 0.3) << h << "x" << w;
        EXPECT_LE((h - 0.5) / (w + 0.5), 1 / 0.3) << h << "x" << w;
        min_aspect = std::min(min_aspect, double(h) / w);
        max_aspect = std::max(max_aspect, double(h) / w);
        // Noise inside the box, the image untouched outside it.
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    const bool in = y >= b.top && y < b.bottom && x >= b.left && x < b.right;
                    const float v = img[size_t((c * H + y) * W + x)];
                    if (!in) ASSERT_EQ(v, 7.0f);
                    else ASSERT_NE(v, 7.0f);
                }
    }
    EXPECT_LT(min_aspect, 0.5);
    EXPECT_GT(max_aspect, 2.0);

    // The same seed erases the same pixels with the same noise; the probability is honoured.
    std::vector<float> a(3 * H * W, 0.0f), b2(3 * H * W, 0.0f);
    vit::random_erase(cfg, 42, a.data(), 3, H, W);
    vit::random_erase(cfg, 42, b2.data(), 3, H, W);
    EXPECT_EQ(a, b2);
    cfg.prob = 0.25f;
    int erased = 0;
    for (uint64_t seed = 0; seed < 4000; ++seed) {
        std::vector<float> img(3 * H * W, 0.0f);
        erased += vit::random_erase(cfg, seed, img.data(), 3, H, W).area() > 0;
    }
    EXPECT_NEAR(erased / 4000.0, 0.25, 0.02);
    cfg.min_area = 0.5f;
    cfg.max_area = 0.4f;
    EXPECT_THROW(cfg.validate(), vit::ConfigError);
}

TEST(RandomErasing, BoxesOnTinyImagesAreSmallerThanTheImageOnEverySide) {
    // On 2x2 every side must be below 2: at most one pixel is erased (or none, when h or w rounds to
    // 0), never a whole row or column.
    vit::RandomErasing cfg;
    cfg.prob = 1.0f;
    int erased = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
        std::vector<float> img(2 * 2, 1.0f);
        const vit::CutBox b = vit::random_erase(cfg, seed, img.data(), 1, 2, 2);
        EXPECT_LE(b.area(), 1);
        erased += b.area() > 0;
        EXPECT_EQ(std::count(img.begin(), img.end(), 1.0f), 4 - b.area());
    }
    EXPECT_GT(erased, 0);
}

TEST(BatchLoader, ErasedAndMixedBatchesArePureFunctionsOfSeedEpochAndBatch) {
    const vit::Dataset data = ramp_dataset(40, 4, 8);
    vit::Augment aug;
    aug.random_crop = true;
    aug.padding = 1;
    aug.hflip = 0.5f;
    aug.auto_augment = vit::parse_auto_augment("trivial");
    aug.erasing.prob = 0.5f;
    aug.mixup.mixup_alpha = 0.8f;
    aug.mixup.cutmix_alpha = 1.0f;
    const std::vector<float> mean(3, 0.5f), sd(3, 0.25f);
    vit::LoaderOptions one;
    one.shuffle = true;
    one.seed = 11;
    one.workers = 1;
    vit::LoaderOptions two = one;
    two.workers = 2;
    vit::BatchLoader a(data, 8, aug, mean, sd, one), b(data, 8, aug, mean, sd, two);
    a.start_epoch(1);
    b.start_epoch(1, 2);  // resume at batch 2 of epoch 1, with another worker count
    vit::Batch ba, bb;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.next(ba));
    ASSERT_TRUE(b.next(bb));
    EXPECT_EQ(ba.x, bb.x);
    EXPECT_EQ(ba.y, bb.y);
    EXPECT_EQ(ba.targets, bb.targets);
    ASSERT_EQ(ba.targets.size(), 8u * 4u);
    for (int i = 0; i < 8; ++i) {
        double s = 0;
        for (int k = 0; k < 4; ++k) s += ba.targets[size_t(i * 4 + k)];
        EXPECT_NEAR(s, 1.0, 1e-6);
    }
    // Switching mixup and erasing on leaves the crops and flips of the plain pipeline: with both
    // at probability 0 the batch is the plain one.
    vit::Augment plain = aug;
    plain.auto_augment = vit::AutoAugment{};
    plain.erasing.prob = 0.0f;
    plain.mixup = vit::MixupConfig{};
    vit::Augment idle = plain;
    idle.mixup = aug.mixup;
    idle.mixup.prob = 0.0f;
    idle.erasing.prob = 1e-12f;  // draws from its own generator, erases nothing
    vit::BatchLoader p(data, 8, plain, mean, sd, one), q(data, 8, idle, mean, sd, one);
    vit::Batch bp, bq;
    ASSERT_TRUE(p.next(bp));
    ASSERT_TRUE(q.next(bq));
    EXPECT_EQ(bp.x, bq.x);
    EXPECT_TRUE(bp.targets.empty());
}

TEST(BatchLoader, RepeatedAugmentationTakesEachImageThriceInARowDifferentlyAugmented) {
    // 12 images, repeats 3, batch 6: the epoch keeps its 12 positions (2 batches), holding 4 distinct
    // images of the permutation, each at 3 consecutive positions with its own crop and flip.
    const vit::Dataset data = ramp_dataset(12, 12, 8);  // label == image index
    vit::Augment aug;
    aug.random_crop = true;
    aug.padding = 2;
    aug.hflip = 0.5f;
    const std::vector<float> mean(3, 0.5f), sd(3, 0.25f);
    vit::LoaderOptions lo;
    lo.shuffle = true;
    lo.seed = 5;
    lo.workers = 1;
    vit::LoaderOptions rep = lo;
    rep.repeats = 3;
    vit::BatchLoader plain(data, 6, aug, mean, sd, lo), repeated(data, 6, aug, mean, sd, rep);
    EXPECT_EQ(repeated.batches_per_epoch(), 2u);
    plain.start_epoch(0);
    repeated.start_epoch(0);
    std::vector<int> order, labels;
    std::vector<std::vector<float>> images;
    vit::Batch b;
    while (plain.next(b)) order.insert(order.end(), b.y.begin(), b.y.end());
    const size_t px = 3 * 8 * 8;
    while (repeated.next(b)) {
        labels.insert(labels.end(), b.y.begin(), b.y.end());
        for (int i = 0; i < b.n; ++i) images.emplace_back(b.x.begin() + long(i * px), b.x.begin() + long((i + 1) * px));
    }
    ASSERT_EQ(labels.size(), 12u);
    for (size_t i = 0; i < 12; ++i) EXPECT_EQ(labels[i], order[i / 3]) << i;  // the same permutation, repeated
    int differing = 0;
    for (size_t i = 0; i < 12; i += 3) differing += (images[i] != images[i + 1]) + (images[i + 1] != images[i + 2]);
    EXPECT_GE(differing, 6) << "the copies of an image should mostly be augmented differently";

    vit::LoaderOptions bad = rep;
    bad.shuffle = false;
    EXPECT_THROW(vit::BatchLoader(data, 6, aug, mean, sd, bad), vit::ConfigError);
    bad = rep;
    bad.repeats = 0;
    EXPECT_THROW(vit::BatchLoader(data, 6, aug, mean, sd, bad), vit::ConfigError);
}

// The augmentation enums the program's flags name are parsed by the library (timm's --remode values).
TEST(AugmentNames, EraseModesAndPadFillsParseBackAndUnknownOnesAreRefused) {
    for (vit::EraseMode m : {vit::EraseMode::Const, vit::EraseMode::Rand, vit::EraseMode::Pixel})
        EXPECT_EQ(vit::parse_erase_mode(vit::to_string(m)), m);
    for (vit::PadFill f : {vit::PadFill::Black, vit::PadFill::Mean}) EXPECT_EQ(vit::parse_pad_fill(vit::to_string(f)), f);
    EXPECT_THROW(vit::parse_erase_mode("zero"), vit::ConfigError);
    EXPECT_THROW(vit::parse_pad_fill("white"), vit::ConfigError);
    EXPECT_EQ(vit::parse_interpolation("nearest"), vit::Interpolation::Nearest);
    vit::PreprocessConfig pre;
    pre.interpolation = vit::Interpolation::Nearest;  // PIL's antialiased resize has no nearest filter
    EXPECT_THROW(pre.validate(), vit::ConfigError);
}
