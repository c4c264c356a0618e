// The training loop: learning on a small synthetic problem, exact resume after an interruption,
// and clear errors for a missing or mismatched checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "temp_dir.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;

namespace {

// Three classes of 8x8 colour images: a bright square in one of three places, on noise.
vit::Dataset synthetic(size_t n, uint64_t seed) {
    vit::Dataset d;
    d.channels = 3;
    d.height = d.width = 8;
    d.classes = {"left", "middle", "right"};
    std::mt19937 rng(static_cast<unsigned>(seed));
    std::uniform_int_distribution<int> noise(0, 80);
    for (size_t i = 0; i < n; ++i) {
        const int label = static_cast<int>(i % 3);
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x)
                for (int c = 0; c < 3; ++c) {
                    const bool on = y >= 2 && y < 6 && x >= 3 * label - (label == 2) && x < 3 * label + 3 - (label == 2);
                    d.pixels.push_back(static_cast<uint8_t>(on ? 230 : noise(rng)));
                }
        d.labels.push_back(label);
    }
    return d;
}

vit::ViTConfig tiny_config() {
    vit::ViTConfig c;
    c.img_h = c.img_w = 8;
    c.patch_size = 4;
    c.embed_dim = 16;
    c.depth = 2;
    c.num_heads = 2;
    c.num_classes = 3;
    c.mlp_ratio = 2.0;
    return c;
}

vit::Model tiny_model() {
    vit::PreprocessConfig pre;
    pre.height = pre.width = 8;
    pre.crop_pct = 1.0;
    return vit::Model(tiny_config(), pre, {"left", "middle", "right"}, 3);
}

using vit_test::TempDir;

vit::FitConfig small_fit(const fs::path& dir) {
    vit::FitConfig f;
    f.epochs = 3;
    f.batch = 8;
    f.lr = 3e-3f;
    f.optim.label_smoothing = 0.1f;
    f.optim.weight_decay = 0.05f;
    f.augment.random_crop = true;
    f.augment.padding = 1;
    f.augment.hflip = 0.5f;
    f.seed = 9;
    f.workers = 2;
    f.run_dir = dir.string();
    return f;
}

// small_fit with every source of randomness and state on: dropout and drop-path, whose masks must be
// replayed, RandAugment, random erasing, mixup and cutmix, whose draws must be, repeated augmentation,
// whose order must be, and the weight EMA, which must come back from a checkpoint.
vit::FitConfig every_feature_fit(const fs::path& dir) {
    vit::FitConfig f = small_fit(dir);
    f.model_ema_decay = 0.9f;
    f.augment.auto_augment = vit::parse_auto_augment("rand-m9-mstd0.5-inc1");
    f.augment.erasing.prob = 0.5f;
    f.augment.mixup.mixup_alpha = 0.8f;
    f.augment.mixup.cutmix_alpha = 1.0f;
    f.aug_repeats = 3;
    f.optim.regularization.drop_path = 0.3f;
    f.optim.regularization.dropout = 0.1f;
    f.optim.regularization.attn_drop = 0.1f;
    f.optim.regularization.head_drop = 0.1f;
    return f;
}

float max_difference(const vit::Model& a, const vit::Model& b) {
    float worst = 0;
    for (size_t i = 0; i < a.params().size(); ++i)
        worst = std::max(worst, std::fabs(a.params().data()[i] - b.params().data()[i]));
    return worst;
}

}  // namespace

TEST(Fit, LearnsAndWritesRunFolder) {
    TempDir dir("vit-fit-learn");
    vit::DataSplit data{synthetic(96, 1), synthetic(30, 2)};
    vit::Model model = tiny_model();
    vit::FitConfig f = small_fit(dir.path);
    f.epochs = 8;
    f.augment = vit::Augment{};
    std::vector<vit::EpochMetrics> seen;
    vit::FitCallbacks cb;
    cb.on_epoch = [&](const vit::EpochMetrics& m) { seen.push_back(m); };
    ASSERT_EQ(vit::fit(model, data, f, cb), vit::FitOutcome::Completed);
    ASSERT_EQ(seen.size(), 8u);
    EXPECT_LT(seen.back().train_loss, seen.front().train_loss);
    EXPECT_GT(seen.back().test_acc, 0.9) << "a linear problem should be learnt";
    for (const char* f : {"last.safetensors", "best.safetensors", "metrics.csv"}) EXPECT_TRUE(fs::exists(dir.path / f)) << f;
    std::ifstream csv(dir.path / "metrics.csv");
    std::string line;
    int rows = 0;
    while (std::getline(csv, line)) ++rows;
    EXPECT_EQ(rows, 9);  // header + one per epoch
    // The best checkpoint is a plain model that classifies as well as the final one.
    const vit::Model best(vit::load_checkpoint((dir.path / "best.safetensors").string()));
    EXPECT_GE(vit::evaluate(best, data.test, 16).accuracy(), 0.9);
    EXPECT_EQ(best.labels(), data.train.classes);
}

TEST(Fit, InterruptedAndResumedRunEndsWithTheSameWeights) {
    const vit::DataSplit data{synthetic(48, 1), synthetic(12, 2)};
    TempDir a("vit-fit-a"), b("vit-fit-b");
    vit::Model straight = tiny_model();
    ASSERT_EQ(vit::fit(straight, data, every_feature_fit(a.path)), vit::FitOutcome::Completed);

    // Stop in the middle of the second epoch (6 steps per epoch), as Ctrl-C would.
    vit::Model first = tiny_model();
    int steps = 0;
    vit::FitCallbacks cb;
    cb.on_step = [&](const vit::StepProgress&) { ++steps; };
    cb.stop_requested = [&] { return steps == 9; };
    ASSERT_EQ(vit::fit(first, data, every_feature_fit(b.path), cb), vit::FitOutcome::Stopped);
    ASSERT_TRUE(fs::exists(b.path / "last.safetensors"));

    vit::Model resumed = tiny_model();  // fresh weights: everything must come from the checkpoint
    vit::FitConfig f = every_feature_fit(b.path);
    f.resume = true;
    ASSERT_EQ(vit::fit(resumed, data, f), vit::FitOutcome::Completed);

    EXPECT_EQ(max_difference(straight, resumed), 0.0f) << "resumed weights differ from the uninterrupted run";

    const vit::Model ema_a(vit::load_checkpoint((a.path / "ema.safetensors").string()));
    const vit::Model ema_b(vit::load_checkpoint((b.path / "ema.safetensors").string()));
    float ema_worst = 0, ema_moved = 0;
    for (size_t i = 0; i < ema_a.params().size(); ++i) {
        ema_worst = std::max(ema_worst, std::fabs(ema_a.params().data()[i] - ema_b.params().data()[i]));
        ema_moved = std::max(ema_moved, std::fabs(ema_a.params().data()[i] - straight.params().data()[i]));
    }
    EXPECT_EQ(ema_worst, 0.0f) << "the resumed run's EMA differs from the uninterrupted run's";
    EXPECT_GT(ema_moved, 0.0f) << "the EMA should lag behind the live weights";
    std::ifstream csv(b.path / "metrics.csv");
    std::string header;
    std::getline(csv, header);
    EXPECT_NE(header.find(",ema_test_loss,ema_test_acc"), std::string::npos) << header;

    // A resume that would switch the EMA off is refused rather than silently dropping it.
    f.model_ema_decay = 0.0f;
    f.epochs = 4;
    EXPECT_THROW(vit::fit(resumed, data, f), vit::ConfigError);
}

TEST(Fit, EvaluatingEveryOtherEpochTrainsTheSameWeights) {
    // Evaluation reads the weights and nothing else: a run that skips it in epoch 1 (eval_every 2; epoch
    // 3, the last, is always evaluated) ends where the run that evaluates every epoch ends.
    const vit::DataSplit data{synthetic(48, 1), synthetic(12, 2)};
    TempDir a("vit-fit-every"), b("vit-fit-sparse");
    vit::Model every = tiny_model(), sparse = tiny_model();
    ASSERT_EQ(vit::fit(every, data, every_feature_fit(a.path)), vit::FitOutcome::Completed);
    vit::FitConfig f = every_feature_fit(b.path);
    f.eval_every = 2;
    std::vector<bool> evaluated;
    vit::FitCallbacks cb;
    cb.on_epoch = [&](const vit::EpochMetrics& m) { evaluated.push_back(m.evaluated); };
    ASSERT_EQ(vit::fit(sparse, data, f, cb), vit::FitOutcome::Completed);
    EXPECT_EQ(evaluated, (std::vector<bool>{false, true, true}));
    EXPECT_EQ(max_difference(every, sparse), 0.0f);
    f.eval_every = 0;
    EXPECT_THROW(vit::fit(sparse, data, f), vit::ConfigError);
}

TEST(ModelEma, AfterKStepsEqualsTheHandComputedAverage) {
    vit::Model model = tiny_model();
    const std::vector<float> w0(model.params().data(), model.params().data() + model.params().size());
    const float decay = 0.75f;
    vit::ModelEma ema(model, decay);
    std::vector<double> expect(w0.begin(), w0.end());  // the average starts at the initial weights
    std::mt19937 rng(5);
    std::normal_distribution<float> step(0.0f, 0.1f);
    for (int k = 0; k < 5; ++k) {
        float* w = model.params().data();
        for (size_t i = 0; i < model.params().size(); ++i) {
            w[i] += step(rng);
            expect[i] = decay * expect[i] + (1.0 - decay) * w[i];
        }
        ema.update(model.params());
    }
    double worst = 0;
    for (size_t i = 0; i < expect.size(); ++i)
        worst = std::max(worst, std::fabs(expect[i] - double(ema.model().params().data()[i])));
    EXPECT_LT(worst, 1e-6);
    EXPECT_THROW(vit::ModelEma(model, 1.0f), vit::ConfigError);
}

TEST(Fit, ResumeWithoutCheckpointIsAClearError) {
    TempDir dir("vit-fit-none");
    vit::Model model = tiny_model();
    vit::FitConfig f = small_fit(dir.path);
    f.resume = true;
    try {
        vit::fit(model, {synthetic(24, 1), synthetic(6, 2)}, f);
        FAIL() << "expected ConfigError";
    } catch (const vit::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("no checkpoint"), std::string::npos) << e.what();
    }
}

TEST(Fit, ResumeWithMismatchedShapesNamesTheTensor) {
    TempDir dir("vit-fit-shape");
    const vit::DataSplit data{synthetic(24, 1), synthetic(6, 2)};
    vit::Model model = tiny_model();
    vit::FitConfig f = small_fit(dir.path);
    f.epochs = 1;
    vit::fit(model, data, f);
    vit::ViTConfig wider = tiny_config();
    wider.embed_dim = 24;
    vit::PreprocessConfig pre;
    pre.height = pre.width = 8;
    vit::Model other(wider, pre, {"left", "middle", "right"}, 1);
    f.resume = true;
    f.epochs = 2;
    try {
        vit::fit(other, data, f);
        FAIL() << "expected ShapeError";
    } catch (const vit::ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("patch_embed.proj.weight"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[24, 3, 4, 4]"), std::string::npos) << msg;
    }
    f.batch = 4;  // a different batch would replay other batches: refused
    EXPECT_THROW(vit::fit(model, data, f), vit::ConfigError);
}

TEST(Fit, EvaluateCountsConfusion) {
    vit::Model model = tiny_model();
    const vit::Dataset d = synthetic(9, 4);
    const vit::EvalResult r = vit::evaluate(model, d, 4);
    EXPECT_EQ(r.total, 9);
    int64_t sum = 0;
    for (int64_t v : r.confusion) sum += v;
    EXPECT_EQ(sum, 9);
    for (size_t k = 0; k < 3; ++k) EXPECT_EQ(r.class_total(k), 3);
    int64_t diag = 0;
    for (size_t k = 0; k < 3; ++k) diag += r.confusion[k * 3 + k];
    EXPECT_EQ(diag, r.correct);
}

// FitConfig::validate, which fit() runs first and the program reports under its flags: the first field
// out of range comes back by name, with its requirement apart, so that a caller can name it its own way.
TEST(FitConfig, ValidateNamesTheFirstFieldOutOfRangeWithItsRequirement) {
    EXPECT_NO_THROW(vit::FitConfig{}.validate());
    struct Case {
        void (*set)(vit::FitConfig&);
        const char* field;
        const char* requirement;
    };
    const Case cases[] = {
        {[](vit::FitConfig& c) { c.epochs = 0; }, "epochs", "must be positive"},
        {[](vit::FitConfig& c) { c.lr = -1e-3f; }, "lr", "must be positive"},
        {[](vit::FitConfig& c) { c.optim.label_smoothing = 1.0f; }, "optim.label_smoothing", "must be in [0, 1)"},
        {[](vit::FitConfig& c) { c.model_ema_decay = 1.0f; }, "model_ema_decay", "must be in [0, 1)"},
        {[](vit::FitConfig& c) { c.workers = 0; }, "workers", "must be at least 1"},
        {[](vit::FitConfig& c) { c.aug_repeats = 65; }, "aug_repeats", "must be in [1, 64]"},
    };
    for (const Case& k : cases) {
        vit::FitConfig c;
        k.set(c);
        try {
            c.validate();
            ADD_FAILURE() << k.field << " out of range was accepted";
        } catch (const vit::FieldError& e) {
            EXPECT_EQ(e.field, k.field);
            EXPECT_EQ(e.requirement, k.requirement);
            EXPECT_NE(std::string(e.what()).find(std::string("FitConfig::") + k.field), std::string::npos) << e.what();
        }
    }
}
