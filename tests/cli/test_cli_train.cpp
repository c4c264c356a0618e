// End-to-end runs of `vit train`, `vit eval`, `vit train-step` and `vit bench` on small real files:
// a PNG image folder written here, the PyTorch train-step fixture, and broken inputs.
#include <csignal>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <cmath>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli_helpers.hpp"
#include "image_folder_fixture.hpp"
#include "train_step_fixture.hpp"
#include "vit/vit.hpp"

using namespace vit_test;

namespace {

int count_lines(const fs::path& p) {
    std::ifstream in(p);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += !line.empty();
    return n;
}

class CliTrain : public Cli {
protected:
    void SetUp() override {
        Cli::SetUp();
        data_ = tmp_ / "data";
        write_image_folder(data_, 16, 4);
        config_ = tmp_ / "tiny.json";
        write_config(config_, 16);
    }
    std::string train_args(const fs::path& run, int epochs) const {
        return "train --data " + quote(data_.string()) + " --model-config " + quote(config_.string()) +
               " --epochs " + std::to_string(epochs) + " --batch 8 --lr 3e-3 --output " + quote(run.string());
    }
    fs::path data_, config_;
};

}  // namespace

TEST_F(CliTrain, TrainThenEvaluate) {
    const fs::path run = tmp_ / "run";
    // Progress lines on a pipe come every VIT_PROGRESS_SECONDS (5 by default) and not at all for work
    // that ends sooner, as these 3 tiny epochs may on a quiet machine: 0 prints them whatever the speed.
    ::setenv("VIT_PROGRESS_SECONDS", "0", 1);
    const Result r = this->run(train_args(run, 3));
    ::unsetenv("VIT_PROGRESS_SECONDS");
    EXPECT_CLEAN_EXIT(r, 0);
    for (const char* f : {"last.safetensors", "best.safetensors", "metrics.csv"}) EXPECT_TRUE(fs::exists(run / f)) << f;
    EXPECT_EQ(count_lines(run / "metrics.csv"), 4);
    // curves.png: the loss and the accuracy charts side by side, 560 x 400 pixels each.
    const cv::Mat curves = cv::imread((run / "curves.png").string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(curves.empty());
    EXPECT_EQ(curves.cols, 1120);
    EXPECT_EQ(curves.rows, 400);
    for (const char* word : {"img/s", "ETA", "loss", "test loss", "lr", "for data (loader ", " img/s per thread)"})
        EXPECT_NE(r.err.find(word), std::string::npos) << word;

    const fs::path csv = tmp_ / "eval.csv";
    const Result e = this->run("eval --model " + quote((run / "best.safetensors").string()) + " --data " +
                               quote(data_.string()) + " --csv " + quote(csv.string()) + " --plot " +
                               quote((tmp_ / "confusion.png").string()));
    EXPECT_CLEAN_EXIT(e, 0);
    // 3 classes: 48-pixel cells, so a 144-pixel grid plus the names, the title and the colour scale.
    const cv::Mat plot = cv::imread((tmp_ / "confusion.png").string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(plot.empty());
    EXPECT_GT(plot.cols, 144 + 70);
    EXPECT_GT(plot.rows, 144 + 40);
    EXPECT_NE(e.out.find("accuracy"), std::string::npos);
    EXPECT_NE(e.out.find("confusion matrix"), std::string::npos);
    for (const char* c : {"bottom", "middle", "top"}) EXPECT_NE(e.out.find(c), std::string::npos) << c;
    EXPECT_EQ(count_lines(csv), 5);  // header, 3 classes, total

    // The trained model classifies the test images like eval counted them.
    const Result c = this->run("classify --top-k 1 --model " + quote((run / "best.safetensors").string()) + " " +
                               quote((data_ / "test").string()));
    EXPECT_CLEAN_EXIT(c, 0);
    EXPECT_EQ(lines_of(c.out).size(), 13u);  // header + 12 images
}

TEST_F(CliTrain, InterruptWritesCheckpointAndResumeFinishes) {
    const fs::path run = tmp_ / "run";
    // More epochs than any machine finishes, stopped by SIGINT once the first epoch is written (not
    // after a fixed time: a slow start, under a sanitizer on a loaded machine, could otherwise be
    // interrupted before the handler exists): the run must save and exit with 130.
    const std::string cmd = quote(kBinary) + " " + train_args(run, 10000000) + " 2>" + quote((tmp_ / "err.txt").string()) +
                            " & pid=$!; i=0; while [ ! -f " + quote((run / "metrics.csv").string()) +
                            " ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done; kill -INT $pid; wait $pid";
    const int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130) << read_file(tmp_ / "err.txt");
    EXPECT_TRUE(fs::exists(run / "last.safetensors"));
    EXPECT_NE(read_file(tmp_ / "err.txt").find("--resume"), std::string::npos);
    // No temporary file is left behind by the checkpoint writer.
    for (const auto& e : fs::directory_iterator(run))
        EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    // Resume a shorter run from it: it is already past the end or finishes cleanly.
    const vit::Checkpoint ck = vit::load_checkpoint((run / "last.safetensors").string());
    EXPECT_FALSE(ck.train_state.empty());
    const Result r = this->run(train_args(run, 1) + " --resume");
    EXPECT_CLEAN_EXIT(r, 0);
}

TEST_F(CliTrain, AMetricsFileThatCannotBeDrawnOnlyWarnsAndTheTrainingFinishes) {
    // A metrics.csv left in the run folder by something else: the rows are appended under its header,
    // which has none of the columns the curves need. The picture is skipped with a warning that names
    // the file and the missing column; the run itself completes.
    const fs::path run = tmp_ / "run";
    fs::create_directories(run);
    std::ofstream(run / "metrics.csv") << "step,value\n1,2\n";
    const Result r = this->run(train_args(run, 1));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_NE(r.err.find("curves.png not updated"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("metrics.csv: no column 'epoch'"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(run / "curves.png"));
    EXPECT_TRUE(fs::exists(run / "best.safetensors"));

    // The curves' columns are there, but a row is not what the header says: a cell that is not a
    // number, or a row (the appended one) with fewer cells than a header with an extra column.
    const std::string header = "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,images_per_s,data_wait_s,skipped_images";
    struct Case {
        std::string name, file, message;
    };
    for (const Case& c :
         {Case{"not-a-number", header + "\n1,2.3,0.1,2.2,n/a,0.001,1,100,0,0\n",
               "metrics.csv: line 2, column test_acc: 'n/a' is not a number"},
          Case{"short-row", header + ",note\n", "metrics.csv: line 2 has 10 cells, the header 11"},
          // Only the test columns may be empty (epochs that --eval-every skipped).
          Case{"empty-train-cell", header + "\n1,,0.1,,,0.001,1,100,0,0\n",
               "metrics.csv: line 2, column train_loss: '' is not a number"}}) {
        const fs::path dir = tmp_ / c.name;
        fs::create_directories(dir);
        std::ofstream(dir / "metrics.csv") << c.file;
        const Result bad = this->run(train_args(dir, 1));
        EXPECT_CLEAN_EXIT(bad, 0);
        EXPECT_NE(bad.err.find(c.message), std::string::npos) << c.name << ": " << bad.err;
        EXPECT_FALSE(fs::exists(dir / "curves.png")) << c.name;
    }
}

TEST_F(CliTrain, EvalEveryEvaluatesEveryNthEpochAndTheLast) {
    // 5 epochs with --eval-every 2 and an EMA: epochs 2, 4 and 5 (the last) are evaluated. The others
    // leave their four test cells empty and say so on their epoch line; the curves are still drawn.
    const fs::path run = tmp_ / "run";
    const Result r = this->run(train_args(run, 5) + " --eval-every 2 --model-ema 0.9");
    EXPECT_CLEAN_EXIT(r, 0);
    const auto cells = [](const std::string& line) {
        std::vector<std::string> out;
        std::istringstream in(line);
        for (std::string cell; std::getline(in, cell, ',');) out.push_back(cell);
        if (!line.empty() && line.back() == ',') out.emplace_back();
        return out;
    };
    std::ifstream csv(run / "metrics.csv");
    std::string line;
    ASSERT_TRUE(std::getline(csv, line));
    const std::vector<std::string> header = cells(line);
    std::vector<size_t> test_columns;
    for (size_t i = 0; i < header.size(); ++i)
        if (header[i].find("test_") != std::string::npos) test_columns.push_back(i);
    ASSERT_EQ(test_columns.size(), 4u) << line;
    for (int epoch = 1; epoch <= 5; ++epoch) {
        ASSERT_TRUE(std::getline(csv, line)) << "epoch " << epoch;
        const std::vector<std::string> row = cells(line);
        ASSERT_EQ(row.size(), header.size()) << line;
        EXPECT_EQ(row[0], std::to_string(epoch));
        const bool evaluated = epoch % 2 == 0 || epoch == 5;
        for (size_t i : test_columns) EXPECT_EQ(row[i].empty(), !evaluated) << "epoch " << epoch << ", " << header[i];
    }
    size_t skipped = 0;
    for (size_t at = r.err.find("test not evaluated"); at != std::string::npos; at = r.err.find("test not evaluated", at + 1))
        ++skipped;
    EXPECT_EQ(skipped, 2u) << r.err;
    const cv::Mat curves = cv::imread((run / "curves.png").string(), cv::IMREAD_COLOR);
    EXPECT_EQ(curves.cols, 1120);
    EXPECT_TRUE(fs::exists(run / "best.safetensors"));

    const Result bad = this->run(train_args(tmp_ / "r2", 1) + " --eval-every 0");
    EXPECT_CLEAN_EXIT(bad, 2);
    EXPECT_NE(bad.err.find("--eval-every must be at least 1"), std::string::npos) << bad.err;
}

TEST_F(CliTrain, MaxPixelsBelowTheImagesSkipsEveryOne) {
    // The 8x8 images have 64 pixels: a limit of 63 refuses all of them before decoding.
    Result r = this->run(train_args(tmp_ / "run", 1) + " --max-pixels 63");
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("8x8 = 64 pixels, more than the limit of 63"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("could be decoded"), std::string::npos) << r.err;
    r = this->run("eval --model " + quote(kModel) + " --data " + quote(data_.string()) + " --max-pixels 0");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--max-pixels must be positive"), std::string::npos) << r.err;
}

TEST_F(CliTrain, BadInputsGetClearMessages) {
    // --resume with no checkpoint
    Result r = this->run(train_args(tmp_ / "empty-run", 1) + " --resume");
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("no checkpoint"), std::string::npos) << r.err;

    // an empty data folder
    fs::create_directories(tmp_ / "nothing");
    r = this->run("train --data " + quote((tmp_ / "nothing").string()) + " --model-config " + quote(config_.string()) +
                  " --output " + quote((tmp_ / "r2").string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("nothing"), std::string::npos) << r.err;

    // a checkpoint whose shapes do not match the configuration
    const fs::path run = tmp_ / "run";
    EXPECT_CLEAN_EXIT(this->run(train_args(run, 1)), 0);
    write_config(config_, 24);
    r = this->run(train_args(run, 2) + " --resume");
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("patch_embed.proj.weight"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("[24, 3, 4, 4]"), std::string::npos) << r.err;

    // an unknown named configuration, a bad flag value
    r = this->run("train --data " + quote(data_.string()) + " --model-config no-such-model --output " +
                  quote((tmp_ / "r3").string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;
    r = this->run(train_args(tmp_ / "r4", 1) + " --label-smoothing 1.5");
    EXPECT_CLEAN_EXIT(r, 2);
    r = this->run(train_args(tmp_ / "r5", 1) + " --drop-path 1.5");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--drop-path"), std::string::npos) << r.err;
    r = this->run(train_args(tmp_ / "r5", 1) + " --attn-drop -0.1");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--attn-drop"), std::string::npos) << r.err;
    r = this->run(train_args(tmp_ / "r6", 1) + " --init xavier");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("xavier"), std::string::npos) << r.err;
    r = this->run(train_args(tmp_ / "r7", 1) + " --pad-fill grey");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--pad-fill"), std::string::npos) << r.err;
}

TEST_F(CliTrain, RecipeSetsFlagsTheCommandLineOverridesAndTheRunRecordsIt) {
    // The recipe asks for 5 epochs and batch 4; the command line's --epochs 2 and --batch 8 win, the
    // rest (EMA, mixup, cutmix, erasing) comes from the recipe.
    const fs::path recipe = tmp_ / "strong.json";
    std::ofstream(recipe) << R"({"epochs": 5, "batch": 4, "model-ema": 0.9, "mixup": 0.8, "cutmix": 1.0,
                                 "reprob": 0.25, "exclude-decay": true, "no-flip": false})";
    const fs::path run = tmp_ / "run";
    Result r = this->run(train_args(run, 2) + " --recipe " + quote(recipe.string()));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_EQ(count_lines(run / "metrics.csv"), 3) << "--epochs 2 overrides the recipe's 5";
    EXPECT_TRUE(fs::exists(run / "ema.safetensors")) << "the recipe's --model-ema applies";
    std::ifstream csv(run / "metrics.csv");
    std::string header, row;
    std::getline(csv, header);
    std::getline(csv, row);
    EXPECT_NE(header.find(",ema_test_loss,ema_test_acc,recipe"), std::string::npos) << header;
    EXPECT_EQ(row.substr(row.rfind(',') + 1), "strong") << row;
    const vit::Checkpoint ck = vit::load_checkpoint((run / "last.safetensors").string());
    const auto state = nlohmann::json::parse(ck.train_state);
    EXPECT_EQ(state.at("batch").get<int>(), 8);
    EXPECT_EQ(state.at("recipe").at("name").get<std::string>(), "strong");
    EXPECT_EQ(state.at("recipe").at("settings").at("mixup").get<double>(), 0.8);

    // Every shipped recipe by name, with the command line shortening it to one epoch.
    int shipped = 0;
    for (const auto& entry : fs::directory_iterator(kSource + "/models/recipes")) {
        const std::string name = entry.path().stem().string();
        SCOPED_TRACE(name);
        r = this->run(train_args(tmp_ / ("named-" + name), 1) + " --recipe " + name);
        EXPECT_CLEAN_EXIT(r, 0);
        EXPECT_NE(read_file(tmp_ / ("named-" + name) / "metrics.csv").find(name), std::string::npos);
        ++shipped;
    }
    EXPECT_GE(shipped, 3);

    // A recipe naming a flag that does not exist is refused, naming the file and the key.
    std::ofstream(tmp_ / "typo.json") << R"({"mixpu": 0.8})";
    r = this->run(train_args(tmp_ / "typo-run", 1) + " --recipe " + quote((tmp_ / "typo.json").string()));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("mixpu"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("typo.json"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp_ / "typo-run"));
    r = this->run(train_args(tmp_ / "r8", 1) + " --recipe no-such-recipe");
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("no-such-recipe"), std::string::npos) << r.err;
    r = this->run(train_args(tmp_ / "r9", 1) + " --mixup-switch-prob 2");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--mixup"), std::string::npos) << r.err;
    for (const char* repeats : {"0", "65"}) {
        r = this->run(train_args(tmp_ / "r10", 1) + " --aug-repeats " + repeats);
        EXPECT_CLEAN_EXIT(r, 2);
        EXPECT_NE(r.err.find("--aug-repeats must be in [1, 64]"), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(tmp_ / "r10"));
    }
}

TEST_F(Cli, TrainStepMatchesPyTorchFixture) {
    const std::string& dir = kFixture;
    const fs::path out = tmp_ / "step.safetensors";
    const Result r = run("train-step --model " + quote(dir) + " --batch " + quote(dir + "/train_step.safetensors") +
                         " --output " + quote(out.string()) + " --lr 1e-3 --weight-decay 0.05 --label-smoothing 0.1");
    EXPECT_CLEAN_EXIT(r, 0);
    expect_matches_train_step_fixture(out, dir + "/train_step.safetensors");

    // A batch with the wrong image size names the tensor and both shapes.
    vit::write_safetensors((tmp_ / "bad.safetensors").string(),
                           {{"x", vit::Tensor({2, 3, 16, 16})}, {"y", vit::Tensor({2})}});
    const Result bad = run("train-step --model " + quote(dir) + " --batch " + quote((tmp_ / "bad.safetensors").string()) +
                           " --output " + quote((tmp_ / "o.safetensors").string()));
    EXPECT_CLEAN_EXIT(bad, 1);
    EXPECT_NE(bad.err.find("[2, 3, 16, 16]"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("[N, 3, 32, 32]"), std::string::npos) << bad.err;
}

TEST_F(Cli, BenchPrintsOneJsonLine) {
    const Result r = run("bench --model-config cifar-t --batch 4 --reps 2 --train");
    EXPECT_CLEAN_EXIT(r, 0);
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("mode"), "train");
    EXPECT_GT(j.at("img_per_s").get<double>(), 0.0);
}

namespace {

// Shipped CIFAR-10 models: the README's default (the 100-epoch RandAugment run) and the 30-epoch
// reference-recipe model that tests and docs use as a fixed reference; models/README.md records both.
struct ShippedCifarModel {
    const char* file;
    double recorded_accuracy;  // percent, as models/README.md records it
};
const ShippedCifarModel kShippedCifarModels[] = {{"cifar-t-randaug.safetensors", 81.28}, {"cifar-t.safetensors", 78.05}};

}  // namespace

TEST_F(Cli, ShippedCifarModelsClassifyTheSamples) {
    for (const auto& m : kShippedCifarModels) {
        const Result r = run("classify --top-k 1 --model " + quote(kSource + "/models/" + m.file) + " " +
                             quote(kSource + "/datasets/samples/cifar10"));
        EXPECT_CLEAN_EXIT(r, 0);
        const auto rows = lines_of(r.out);
        ASSERT_EQ(rows.size(), 9u) << m.file;
        int right = 0;
        for (size_t i = 1; i < rows.size(); ++i) {
            const auto f = csv_split(rows[i]);
            const std::string file = fs::path(f[0]).filename().string();
            right += file.rfind(f[1] + "_", 0) == 0;  // files are named <class>_NNNN.jpg
        }
        EXPECT_GE(right, 6) << m.file << "\n" << r.out;
    }
}

TEST_F(Cli, ShippedCifarModelsReachTheirRecordedAccuracy) {
    const std::string data = std::string(VIT_SHARED_DIR) + "/datasets/cifar10";
    if (!fs::exists(data + "/test")) GTEST_SKIP() << "CIFAR-10 not found at " << data << " (../shared absent)";
    for (const auto& m : kShippedCifarModels) {
        const Result r = run("eval --model " + quote(kSource + "/models/" + m.file) + " --data " + quote(data));
        EXPECT_CLEAN_EXIT(r, 0);
        const size_t at = r.out.find("accuracy ");
        ASSERT_NE(at, std::string::npos) << r.out;
        const double acc = std::stod(r.out.substr(at + 9));
        // The same weights on the same images: only the order of float sums may differ from the run.
        EXPECT_NEAR(acc, m.recorded_accuracy, 0.05) << m.file << ": models/README.md records " << m.recorded_accuracy << "%";
    }
}

// Fine-tuning a Hub folder: a new head for the data's classes, and the loss falls.
namespace {

std::vector<double> train_losses(const fs::path& metrics) {
    std::ifstream in(metrics);
    std::string line;
    std::getline(in, line);  // header
    std::vector<double> losses;
    while (std::getline(in, line))
        if (!line.empty()) losses.push_back(std::stod(csv_split(line)[1]));
    return losses;
}

std::string fine_tune_args(const fs::path& data, const fs::path& model, const fs::path& run) {
    return "train --data " + quote(data.string()) + " --init-from " + quote(model.string()) +
           " --epochs 6 --batch 8 --lr 3e-3 --warmup 0 --output " + quote(run.string());
}

void expect_fine_tuning_learned(const Result& r, const fs::path& run) {
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_NE(r.err.find("replacing"), std::string::npos) << r.err;
    const std::vector<double> losses = train_losses(run / "metrics.csv");
    ASSERT_EQ(losses.size(), 6u);
    std::cout << "[ figures  ] train loss by epoch:";
    for (double l : losses) std::cout << " " << l;
    std::cout << "\n";
    EXPECT_LT(losses.back(), 0.9 * losses.front()) << "first epoch " << losses.front() << ", last " << losses.back();
    // The fine-tuned model is a 3-class classifier of the same family.
    const vit::Checkpoint ck = vit::load_checkpoint((run / "last.safetensors").string());
    EXPECT_EQ(ck.config.num_classes, 3);
    EXPECT_EQ(ck.labels, (std::vector<std::string>{"bottom", "middle", "top"}));
}

}  // namespace

TEST_F(CliTrain, FineTunesADinov2HubFolderWithoutHeadOnANewHead) {
    const fs::path model = fs::path(VIT_TEST_DATA) / "timm-hub" / "vit_small_patch14_reg4_dinov2.lvd142m-mini";
    expect_fine_tuning_learned(run(fine_tune_args(data_, model, tmp_ / "run")), tmp_ / "run");
    const vit::Checkpoint ck = vit::load_checkpoint((tmp_ / "run" / "last.safetensors").string());
    EXPECT_EQ(ck.config.reg_tokens, 4);
    EXPECT_TRUE(ck.config.layer_scale());
}

TEST_F(CliTrain, FineTunesADistilledDeitHubFolderReplacingBothHeads) {
    // A small DeiT distilled model in timm's Hub layout: the registration by name, shapes from model_args.
    const fs::path model = tmp_ / "deit";
    fs::create_directories(model);
    std::ofstream(model / "config.json") << R"({"architecture": "deit_tiny_distilled_patch16_224.fb_in1k",
        "num_classes": 5, "global_pool": "token",
        "model_args": {"img_size": 16, "patch_size": 8, "embed_dim": 24, "depth": 2, "num_heads": 2},
        "pretrained_cfg": {"input_size": [3, 16, 16], "crop_pct": 1.0, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}})";
    vit::ViTConfig c;
    c.img_h = c.img_w = 16;
    c.patch_size = 8;
    c.embed_dim = 24;
    c.depth = 2;
    c.num_heads = 2;
    c.num_classes = 5;
    c.distilled = true;
    vit::PreprocessConfig pre;
    pre.height = pre.width = 16;
    const vit::Model random(c, pre, {}, 3);
    vit::write_safetensors((model / "model.safetensors").string(), random.to_checkpoint().weights, {});
    expect_fine_tuning_learned(run(fine_tune_args(data_, model, tmp_ / "run")), tmp_ / "run");
    const vit::Checkpoint ck = vit::load_checkpoint((tmp_ / "run" / "last.safetensors").string());
    EXPECT_TRUE(ck.config.distilled);
    EXPECT_EQ(ck.weights.at("head_dist.weight").shape, (vit::Shape{3, 24}));
}

TEST_F(Cli, ClassifyAModelWithoutClassifierSaysSoPlainly) {
    const fs::path model = fs::path(VIT_TEST_DATA) / "timm-hub" / "vit_small_patch14_reg4_dinov2.lvd142m-mini";
    const Result r = run("classify --model " + quote(model.string()) + " " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    for (const char* word : {"no classifier", "num_classes 0", "96-wide feature vector", "vit forward", "--init-from"})
        EXPECT_NE(r.err.find(word), std::string::npos) << word << " in " << r.err;
}

TEST_F(Cli, HubModelWithoutLabelNamesPrintsImageNetNames) {
    const std::string model = std::string(VIT_SHARED_DIR) + "/fixtures/timm-hub/deit_tiny_distilled_patch16_224.fb_in1k";
    if (!fs::exists(model + "/model.safetensors")) GTEST_SKIP() << "fixture not found at " << model;
    const Result r = run("classify --top-k 3 --model " + quote(model) + " " + quote(kSamples + "/photos"));
    EXPECT_CLEAN_EXIT(r, 0);
    const auto rows = lines_of(r.out);
    ASSERT_EQ(rows.size(), 4u) << r.out;  // header + 3 photos
    for (size_t i = 1; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i].find("class_"), std::string::npos) << rows[i];
        // ImageNet names are WordNet synonym lists, quoted in the CSV because of their commas.
        EXPECT_NE(rows[i].find(", "), std::string::npos) << rows[i];
    }
}

TEST_F(CliTrain, PhotosTrainWithTheRandomResizedCropReadFromDiskEveryEpoch) {
    const fs::path run = tmp_ / "run";
    const Result r = this->run(train_args(run, 2) + " --scale 0.5,1 --ratio 0.8,1.25 --train-interpolation bicubic "
                                                    "--color-jitter 0.4 --hflip 0.5");
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_NE(r.err.find("read from disk every epoch"), std::string::npos) << r.err;
    std::ifstream metrics(run / "metrics.csv");
    std::string header, row;
    std::getline(metrics, header);
    std::getline(metrics, row);
    EXPECT_NE(header.find(",skipped_images"), std::string::npos) << header;
    EXPECT_EQ(row.substr(row.rfind(',') + 1), "0") << row;
    EXPECT_EQ(count_lines(run / "metrics.csv"), 3);
}

TEST_F(CliTrain, AnUnreadableImageIsSkippedWithAWarningAndCountedInMetrics) {
    // A file that lists as an image but does not decode: the streamed run meets it in every epoch.
    const fs::path bad = data_ / "train" / "top" / "zz_truncated.png";
    std::ofstream(bad, std::ios::binary) << "\x89PNG\r\n\x1a\n not really";
    const fs::path run = tmp_ / "run";
    const Result r = this->run(train_args(run, 2) + " --cache none");
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_NE(r.err.find("skipped '" + bad.string() + "'"), std::string::npos) << r.err;
    std::ifstream metrics(run / "metrics.csv");
    std::string line;
    std::getline(metrics, line);
    int rows = 0, skipped = 0;
    while (std::getline(metrics, line)) {
        ++rows;
        skipped += std::stoi(line.substr(line.rfind(',') + 1));
    }
    EXPECT_EQ(rows, 2);
    // 49 images in batches of 8 (drop_last): 48 a epoch, so the bad one is in the epoch at most once.
    EXPECT_GE(skipped, 1) << r.err;
    EXPECT_LE(skipped, 2) << r.err;
}

TEST_F(CliTrain, PhotoAndCacheFlagsOutOfRangeAreRefusedBeforeLoading) {
    const fs::path run = tmp_ / "run";
    struct Case {
        std::string flags, message;
    };
    for (const Case& c : {Case{"--scale 0.5,0.2", "--scale must be two area fractions"},
                          Case{"--scale 0.1", "--scale expects two comma-separated numbers MIN,MAX"},
                          Case{"--scale 0.08,1 --ratio 0,1", "--ratio must be two aspect ratios"},
                          Case{"--scale 0.08,1 --cache decoded", "--cache decoded keeps every image"},
                          Case{"--cache memory", "unknown cache mode 'memory'"},
                          Case{"--scale 0.08,1 --train-interpolation nearest", "unknown training interpolation"},
                          Case{"--hflip 2", "--hflip must be a probability"},
                          Case{"--hflip 0.5 --no-flip", "give --hflip or --no-flip"},
                          Case{"--color-jitter 3", "--color-jitter"}}) {
        const Result r = this->run(train_args(run, 1) + " " + c.flags);
        EXPECT_EQ(r.code, 2) << c.flags << "\n" << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.flags << "\n" << r.err;
        EXPECT_FALSE(fs::exists(run / "last.safetensors")) << c.flags;
    }
}

TEST_F(CliTrain, FineTuningALinearProbeLeavesEverythingButTheHeadAsItWas) {
    const fs::path base = tmp_ / "base";
    EXPECT_CLEAN_EXIT(this->run(train_args(base, 1)), 0);
    const fs::path probe = tmp_ / "probe";
    const std::string init = " --init-from " + quote((base / "last.safetensors").string());
    const std::string args = "train --data " + quote(data_.string()) + init + " --epochs 1 --batch 8 --output " +
                             quote(probe.string());
    const Result r = this->run(args + " --train-only head --lr-base 0.004 --layer-decay 0.75");
    EXPECT_CLEAN_EXIT(r, 0);
    const vit::Checkpoint before = vit::load_checkpoint((base / "last.safetensors").string());
    const vit::Checkpoint after = vit::load_checkpoint((probe / "last.safetensors").string());
    int moved = 0;
    for (const auto& [name, t] : after.weights) {
        const bool same = t.data == before.weights.at(name).data;
        if (name.rfind("head.", 0) == 0) moved += !same;
        else EXPECT_TRUE(same) << name << " changed in a linear probe";
    }
    EXPECT_EQ(moved, 2);
    // No optimizer moments for the frozen tensors, and a resume must freeze the same ones.
    EXPECT_TRUE(after.optimizer.count("optimizer.exp_avg.head.weight"));
    EXPECT_FALSE(after.optimizer.count("optimizer.exp_avg.blocks.0.mlp.fc1.weight"));
    const Result again = this->run(args + " --resume");
    EXPECT_NE(again.code, 0);
    EXPECT_NE(again.err.find("the head only"), std::string::npos) << again.err;

    const fs::path frozen = tmp_ / "frozen";
    EXPECT_CLEAN_EXIT(this->run("train --data " + quote(data_.string()) + init + " --epochs 1 --batch 8 --output " +
                                quote(frozen.string()) + " --freeze-blocks 1"),
                      0);
    const vit::Checkpoint f = vit::load_checkpoint((frozen / "last.safetensors").string());
    EXPECT_EQ(f.weights.at("blocks.0.attn.qkv.weight").data, before.weights.at("blocks.0.attn.qkv.weight").data);
    EXPECT_EQ(f.weights.at("pos_embed").data, before.weights.at("pos_embed").data);
    EXPECT_NE(f.weights.at("blocks.1.attn.qkv.weight").data, before.weights.at("blocks.1.attn.qkv.weight").data);

    struct Case {
        std::string flags, message;
    };
    for (const Case& c : {Case{"--freeze-blocks 3", "--freeze-blocks 3 is more than the model's 2 blocks"},
                          Case{"--train-only body", "--train-only takes 'head'"},
                          Case{"--train-only head --freeze-blocks 1", "not both"},
                          Case{"--layer-decay 0", "--layer-decay must be in (0, 1]"},
                          Case{"--lr 0.1 --lr-base 0.1", "give --lr or --lr-base, not both"},
                          Case{"--lr-base 0.1 --lr-base-scale cube", "--lr-base-scale must be sqrt or linear"}}) {
        const Result bad = this->run(args + "-bad " + c.flags);
        EXPECT_EQ(bad.code, 2) << c.flags << "\n" << bad.err;
        EXPECT_NE(bad.err.find(c.message), std::string::npos) << c.flags << "\n" << bad.err;
    }
}
