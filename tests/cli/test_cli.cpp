// End-to-end runs of the `vit` program: exit codes, output formats, warnings and error messages, as a
// user or a script would see them.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "image_bombs.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;

using namespace vit_test;

namespace {

const std::vector<std::string> kCifarLabels = {"airplane", "automobile", "bird",  "cat",  "deer",
                                               "dog",      "frog",       "horse", "ship", "truck"};

bool is_image_name(const fs::path& p) {
    static const std::set<std::string> ext = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                              ".webp", ".ppm", ".pgm", ".pnm"};
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext.count(e) > 0;
}

// The images classify should find under a folder, in the order it should report them.
std::vector<std::string> images_under(const std::string& dir) {
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && is_image_name(e.path())) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

TEST_F(Cli, ClassifySamplesCsvTopAllClasses) {
    const std::vector<std::string> expected = images_under(kSamples);
    ASSERT_GE(expected.size(), 8u);
    const Result r = run("classify --model " + quote(kModel) + " --top-k 10 --batch 4 " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 0);
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), expected.size() + 1) << r.out;

    const auto header = csv_split(lines[0]);
    ASSERT_EQ(header.size(), 21u);
    EXPECT_EQ(header[0], "path");
    EXPECT_EQ(header[1], "top1_label");
    EXPECT_EQ(header[2], "top1_prob");
    EXPECT_EQ(header[20], "top10_prob");

    for (size_t i = 0; i < expected.size(); ++i) {
        const auto f = csv_split(lines[i + 1]);
        ASSERT_EQ(f.size(), 21u) << lines[i + 1];
        EXPECT_EQ(f[0], expected[i]) << "rows must follow sorted path order";
        double sum = 0, prev = 2;
        std::set<std::string> labels;
        for (int k = 0; k < 10; ++k) {
            labels.insert(f[1 + 2 * k]);
            const double p = std::stod(f[2 + 2 * k]);
            EXPECT_GE(p, 0.0);
            EXPECT_LE(p, prev) << "probabilities must be sorted, row " << lines[i + 1];
            prev = p;
            sum += p;
        }
        EXPECT_NEAR(sum, 1.0, 1e-4) << lines[i + 1];
        EXPECT_EQ(labels, std::set<std::string>(kCifarLabels.begin(), kCifarLabels.end()));
    }
    EXPECT_NE(r.err.find("classified " + std::to_string(expected.size()) + " images (0 failed)"), std::string::npos)
        << r.err;
    // The summary says how long the model waited for decoding, a share of the run's time.
    const size_t summary = r.err.find(" in ", r.err.find("classified "));
    ASSERT_NE(summary, std::string::npos) << r.err;
    double seconds = -1, waited = -1;
    int share = -1;
    ASSERT_EQ(std::sscanf(r.err.c_str() + summary, " in %lf s, %*f images/s; the model waited %lf s (%d%%) for decoding",
                          &seconds, &waited, &share),
              3)
        << r.err;
    EXPECT_GE(waited, 0.0);
    EXPECT_LE(waited, seconds);
    EXPECT_GE(share, 0);
    EXPECT_LE(share, 100);
}

TEST_F(Cli, BatchSizeDoesNotChangeResults) {
    const Result a = run("classify --model " + quote(kModel) + " --batch 1 --workers 1 " + quote(kSamples));
    const Result b = run("classify --model " + quote(kModel) + " --batch 16 --workers 3 " + quote(kSamples));
    EXPECT_CLEAN_EXIT(a, 0);
    EXPECT_CLEAN_EXIT(b, 0);
    const auto la = lines_of(a.out), lb = lines_of(b.out);
    ASSERT_EQ(la.size(), lb.size());
    for (size_t i = 1; i < la.size(); ++i) {
        const auto fa = csv_split(la[i]), fb = csv_split(lb[i]);
        ASSERT_EQ(fa.size(), fb.size());
        EXPECT_EQ(fa[0], fb[0]);
        EXPECT_EQ(fa[1], fb[1]) << "top-1 label differs between batch sizes for " << fa[0];
        EXPECT_NEAR(std::stod(fa[2]), std::stod(fb[2]), 1e-5);
    }
}

TEST_F(Cli, ClassifyJsonToFile) {
    const fs::path out = tmp_ / "result.json";
    const Result r = run("classify --model " + quote(kModel) + " --format json --top-k 3 --output " +
                         quote(out.string()) + " " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_TRUE(r.out.empty()) << "--output must keep stdout free: " << r.out;
    ASSERT_TRUE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(tmp_))
        EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "left over " << e.path();

    const nlohmann::json j = nlohmann::json::parse(read_file(out));
    const auto expected = images_under(kSamples);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), expected.size());
    for (size_t i = 0; i < j.size(); ++i) {
        EXPECT_EQ(j[i]["path"], expected[i]);
        const auto& top = j[i]["top_k"];
        ASSERT_EQ(top.size(), 3u);
        double prev = 2;
        for (const auto& t : top) {
            const int index = t["index"].get<int>();
            ASSERT_GE(index, 0);
            ASSERT_LT(index, 10);
            EXPECT_EQ(t["label"].get<std::string>(), kCifarLabels[index]);
            const double p = t["prob"].get<double>();
            EXPECT_GT(p, 0.0);
            EXPECT_LE(p, prev);
            prev = p;
        }
    }
}

TEST_F(Cli, CorruptImageIsSkippedWithWarning) {
    const fs::path dir = tmp_ / "images";
    fs::create_directories(dir / "sub");
    fs::copy_file(kSamples + "/cifar10/cat_0000.jpg", dir / "a_cat.jpg");
    fs::copy_file(kSamples + "/cifar10/dog_0000.jpg", dir / "sub" / "c_dog.JPG");
    std::ofstream(dir / "b_notes.jpg") << "this is text, not a JPEG\n";
    std::ofstream(dir / "readme.txt") << "not an image extension: ignored inside folders\n";
    // A comma in a path must survive CSV quoting.
    fs::copy_file(kSamples + "/cifar10/ship_0000.jpg", dir / "d,ship.png");

    const Result r = run("classify --model " + quote(kModel) + " " + quote(dir.string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("b_notes.jpg"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("readme.txt"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(1 failed)"), std::string::npos) << r.err;

    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 4u) << r.out;
    EXPECT_EQ(csv_split(lines[1])[0], (dir / "a_cat.jpg").string());
    EXPECT_EQ(csv_split(lines[2])[0], (dir / "d,ship.png").string());
    EXPECT_EQ(csv_split(lines[3])[0], (dir / "sub" / "c_dog.JPG").string());
    EXPECT_EQ(r.out.find("b_notes"), std::string::npos);
}

// Failures scattered over many batches: the survivors of each batch are packed together before the
// forward pass, so every row must still carry its own image's result (compared with batch size 1).
TEST_F(Cli, FailuresAcrossManyBatches) {
    const fs::path dir = tmp_ / "many";
    fs::create_directories(dir);
    const std::vector<std::string> sources = images_under(kSamples + "/cifar10");
    ASSERT_FALSE(sources.empty());
    int bad = 0;
    for (int i = 0; i < 37; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "img_%03d.jpg", i);
        if (i % 7 == 3) {
            std::ofstream(dir / name) << "corrupt " << i;
            ++bad;
        } else {
            fs::copy_file(sources[i % sources.size()], dir / name);
        }
    }
    const Result batched = run("classify --model " + quote(kModel) + " --batch 4 --workers 3 --top-k 10 " +
                               quote(dir.string()));
    const Result single = run("classify --model " + quote(kModel) + " --batch 1 --workers 1 --top-k 10 " +
                              quote(dir.string()));
    EXPECT_CLEAN_EXIT(batched, 1);
    EXPECT_CLEAN_EXIT(single, 1);
    EXPECT_NE(batched.err.find("(" + std::to_string(bad) + " failed)"), std::string::npos) << batched.err;
    const auto a = lines_of(batched.out), b = lines_of(single.out);
    ASSERT_EQ(a.size(), size_t(37 - bad + 1));
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 1; i < a.size(); ++i) {
        const auto fa = csv_split(a[i]), fb = csv_split(b[i]);
        ASSERT_EQ(fa.size(), 21u);
        EXPECT_EQ(fa[0], fb[0]);
        // Same image, same label order and probabilities (up to batch-size rounding in oneDNN).
        for (size_t k = 1; k < fa.size(); k += 2) {
            EXPECT_NEAR(std::stod(fa[k + 1]), std::stod(fb[k + 1]), 1e-5) << fa[0];
        }
        EXPECT_EQ(fa[1], fb[1]) << fa[0];
    }
}

TEST_F(Cli, ClassifySkipsImagesAboveTheirPixelLimit) {
    const fs::path dir = tmp_ / "images";
    fs::create_directories(dir);
    fs::copy_file(kSamples + "/cifar10/cat_0000.jpg", dir / "a_cat.jpg");  // 32x32 = 1024 pixels
    write_image_bytes((dir / "b_bomb.png").string(), png_declaring(20000, 20000));

    const Result r = run("classify --model " + quote(kModel) + " " + quote(dir.string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("b_bomb.png"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("20000x20000"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(1 failed)"), std::string::npos) << r.err;
    EXPECT_EQ(lines_of(r.out).size(), 2u) << r.out;

    const Result tight = run("classify --max-pixels 1000 --model " + quote(kModel) + " " + quote(dir.string()));
    EXPECT_CLEAN_EXIT(tight, 1);
    EXPECT_NE(tight.err.find("32x32"), std::string::npos) << tight.err;
    EXPECT_NE(tight.err.find("limit of 1000"), std::string::npos) << tight.err;
    EXPECT_NE(tight.err.find("(2 failed)"), std::string::npos) << tight.err;

    const Result zero = run("classify --max-pixels 0 --model " + quote(kModel) + " " + quote(dir.string()));
    EXPECT_CLEAN_EXIT(zero, 2);
    EXPECT_NE(zero.err.find("--max-pixels must be positive"), std::string::npos) << zero.err;
}

TEST_F(Cli, BenchRefusesABatchThatCannotFitInMemory) {
    const Result r = run("bench --model-config vit_base_patch16_224 --batch 100000 --reps 1");
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("batch of 100000"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("GiB of memory"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is available"), std::string::npos) << r.err;
}

TEST_F(Cli, MissingInputPath) {
    const std::string missing = (tmp_ / "no_such_image.jpg").string();
    const Result r = run("classify --model " + quote(kModel) + " " + quote(missing));
    EXPECT_FALSE(r.signaled);
    EXPECT_TRUE(r.exited);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;

    // One missing input among good ones: the others are still classified.
    const Result mixed = run("classify --model " + quote(kModel) + " " + quote(missing) + " " +
                             quote(kSamples + "/cifar10/cat_0000.jpg"));
    EXPECT_CLEAN_EXIT(mixed, 1);
    EXPECT_EQ(lines_of(mixed.out).size(), 2u) << mixed.out;
}

TEST_F(Cli, MissingModel) {
    const std::string missing = (tmp_ / "absent.safetensors").string();
    const Result r = run("classify --model " + quote(missing) + " " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("vit classify: error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST_F(Cli, UsageErrors) {
    Result r = run("classify --no-such-flag --model " + quote(kModel) + " " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("usage:"), std::string::npos) << r.err;

    r = run("classify " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;

    r = run("classify --model " + quote(kModel) + " --top-k 0 " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--top-k"), std::string::npos) << r.err;

    r = run("classify --model " + quote(kModel) + " --batch notanumber " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 2);

    r = run("classify --model " + quote(kModel) + " --format xml " + quote(kSamples));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("xml"), std::string::npos) << r.err;

    r = run("frobnicate");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;

    r = run("");
    EXPECT_CLEAN_EXIT(r, 2);

    r = run("forward --model " + quote(kModel));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--input"), std::string::npos) << r.err;
}

TEST_F(Cli, HelpAndVersion) {
    Result r = run("--version");
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_EQ(r.out.rfind("vit 0.", 0), 0u) << r.out;
    r = run("--help");
    EXPECT_CLEAN_EXIT(r, 0);
    for (const char* cmd : {"classify", "forward", "init"}) EXPECT_NE(r.out.find(cmd), std::string::npos);
    r = run("classify --help");
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_NE(r.out.find("--top-k"), std::string::npos);
}

TEST_F(Cli, ForwardMatchesTimmReference) {
    const std::string ref = kFixture + "/reference.safetensors";
    ASSERT_TRUE(fs::exists(ref)) << "fixture missing: copy ../shared/fixtures/timm-vit-small32 to " << kFixture;
    const fs::path out = tmp_ / "out.safetensors";
    const Result r = run("forward --model " + quote(kFixture) + " --input " + quote(ref) + " --output " +
                         quote(out.string()) + " --attention --batch 1");
    EXPECT_CLEAN_EXIT(r, 0);
    ASSERT_TRUE(fs::exists(out));

    const vit::SafeTensors expected = vit::read_safetensors(ref);
    const vit::SafeTensors got = vit::read_safetensors(out.string());
    const auto check = [&](const std::string& name, double tol) {
        ASSERT_TRUE(got.tensors.count(name)) << name << " missing from the output";
        const vit::Tensor& a = got.tensors.at(name);
        const vit::Tensor& b = expected.tensors.at(name);
        ASSERT_EQ(a.shape, b.shape) << name;
        double worst = 0;
        for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, double(std::fabs(a.data[i] - b.data[i])));
        EXPECT_LT(worst, tol) << name;
    };
    check("logits", 1e-4);
    check("attn.0", 1e-5);
    check("attn.1", 1e-5);
    EXPECT_EQ(got.tensors.count("attn.2"), 0u);
}

TEST_F(Cli, ForwardWrongInputShape) {
    const fs::path in = tmp_ / "bad_input.safetensors";
    vit::TensorMap m;
    m["input"] = vit::Tensor({2, 3, 16, 16}, 0.5f);
    m["pixels"] = vit::Tensor({1, 3, 32, 32}, 0.0f);
    vit::write_safetensors(in.string(), m);
    const fs::path out = tmp_ / "out.safetensors";

    Result r = run("forward --model " + quote(kFixture) + " --input " + quote(in.string()) + " --output " +
                   quote(out.string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("[2, 3, 16, 16]"), std::string::npos) << "actual shape missing: " << r.err;
    EXPECT_NE(r.err.find("[N, 3, 32, 32]"), std::string::npos) << "expected shape missing: " << r.err;
    EXPECT_FALSE(fs::exists(out));

    r = run("forward --model " + quote(kFixture) + " --input " + quote(in.string()) + " --key nope --output " +
            quote(out.string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("pixels"), std::string::npos) << "should list the tensors present: " << r.err;

    r = run("forward --model " + quote(kFixture) + " --input " + quote(in.string()) + " --key pixels --output " +
            quote(out.string()));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_EQ(vit::read_safetensors(out.string()).tensors.at("logits").shape, (vit::Shape{1, 10}));
}

TEST_F(Cli, CorruptCheckpoints) {
    const std::string model_bytes = read_file(kModel);
    ASSERT_GT(model_bytes.size(), 100000u);
    std::mt19937 rng(1234);
    std::string noise(4096, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());

    struct Case {
        std::string name, bytes;
    };
    const std::vector<Case> cases = {
        {"random.safetensors", noise},
        {"header_cut.safetensors", model_bytes.substr(0, 200)},
        {"data_cut.safetensors", model_bytes.substr(0, model_bytes.size() / 2)},
        {"empty.safetensors", ""},
        {"bad_json.safetensors", std::string("\x10\0\0\0\0\0\0\0{not json at all}", 24)},
    };
    for (const auto& c : cases) {
        const fs::path p = tmp_ / c.name;
        std::ofstream(p, std::ios::binary) << c.bytes;
        const Result r = run("classify --model " + quote(p.string()) + " " + quote(kSamples));
        SCOPED_TRACE(c.name);
        EXPECT_CLEAN_EXIT(r, 1);
        EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(c.name), std::string::npos) << "message should name the file: " << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
}

TEST_F(Cli, InitReproducesBundledModel) {
    const fs::path out = tmp_ / "cifar-t.safetensors";
    const Result r = run("init --model-config " + quote(kSource + "/models/configs/cifar-t.json") +
                         " --seed 0 --labels airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck --output " +
                         quote(out.string()));
    EXPECT_CLEAN_EXIT(r, 0);
    const vit::Checkpoint made = vit::load_checkpoint(out.string());
    const vit::Checkpoint bundled = vit::load_checkpoint(kModel);
    EXPECT_EQ(made.labels, kCifarLabels);
    EXPECT_EQ(made.labels, bundled.labels);
    EXPECT_EQ(made.config.embed_dim, 128);
    EXPECT_EQ(made.config.depth, 6);
    EXPECT_EQ(made.preprocess.crop_pct, 1.0);
    ASSERT_EQ(made.preprocess.mean.size(), 3u);
    EXPECT_NEAR(made.preprocess.mean[0], 0.4914f, 1e-6);
    EXPECT_NEAR(made.preprocess.std[2], 0.2616f, 1e-6);
    ASSERT_EQ(made.weights.size(), bundled.weights.size());
    for (const auto& [name, t] : made.weights) {
        ASSERT_TRUE(bundled.weights.count(name)) << name;
        EXPECT_EQ(t.data, bundled.weights.at(name).data) << "same seed must give the same " << name;
    }

    // A different seed must give different weights.
    const fs::path other = tmp_ / "seed1.safetensors";
    EXPECT_CLEAN_EXIT(run("init --model-config " + quote(kSource + "/models/configs/cifar-t.json") +
                          " --seed 1 --output " + quote(other.string())),
                      0);
    const vit::Checkpoint seed1 = vit::load_checkpoint(other.string());
    EXPECT_NE(seed1.weights.at("head.weight").data, bundled.weights.at("head.weight").data);
    EXPECT_EQ(seed1.labels.front(), "class_0");
}

TEST_F(Cli, InitRejectsBadInput) {
    Result r = run("init --model-config " + quote(kSource + "/models/configs/cifar-t.json") +
                   " --labels a,b,c --output " + quote((tmp_ / "x.safetensors").string()));
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--labels"), std::string::npos) << r.err;

    const fs::path bad = tmp_ / "bad.json";
    std::ofstream(bad) << R"({"img_size": 32, "patch_size": 4, "embed_dim": 100, "num_heads": 3})";  // 100 % 3 != 0
    r = run("init --model-config " + quote(bad.string()) + " --output " + quote((tmp_ / "y.safetensors").string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("error:"), std::string::npos);
    EXPECT_FALSE(fs::exists(tmp_ / "y.safetensors"));

    std::ofstream(bad) << "{ not json";
    r = run("init --model-config " + quote(bad.string()) + " --output " + quote((tmp_ / "y.safetensors").string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find(bad.string()), std::string::npos) << r.err;
}

TEST_F(Cli, AllConfigsAreValid) {
    // Small ones are built for real; the 224 ones only parsed, to keep the test quick.
    for (const char* name : {"cifar-t", "cifar-s", "fmnist-t"}) {
        SCOPED_TRACE(name);
        const fs::path out = tmp_ / (std::string(name) + ".safetensors");
        const Result r = run("init --model-config " + quote(kSource + "/models/configs/" + name + ".json") +
                             " --output " + quote(out.string()));
        EXPECT_CLEAN_EXIT(r, 0);
        EXPECT_TRUE(fs::exists(out));
    }
    const fs::path fm = tmp_ / "fmnist-t.safetensors";
    const vit::Checkpoint ck = vit::load_checkpoint(fm.string());
    EXPECT_EQ(ck.config.in_chans, 1);
    EXPECT_EQ(ck.config.img_h, 28);
    EXPECT_EQ(ck.preprocess.channels, 1);
    // A grayscale model classifies colour images (converted to luminance).
    const Result r = run("classify --model " + quote(fm.string()) + " " + quote(kSamples + "/photos"));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_EQ(lines_of(r.out).size(), images_under(kSamples + "/photos").size() + 1);

    for (const char* name : {"vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224"}) {
        SCOPED_TRACE(name);
        const std::string text = read_file(kSource + "/models/configs/" + std::string(name) + ".json");
        nlohmann::json j = nlohmann::json::parse(text);
        j.erase("preprocess");
        const vit::ViTConfig c = vit::config_from_json(j.dump(), name);  // validates
        EXPECT_EQ(c.img_h, 224);
        EXPECT_EQ(c.patch_size, 16);
        EXPECT_EQ(c.num_classes, 1000);
    }
}

}  // namespace
