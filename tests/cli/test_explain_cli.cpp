// End-to-end runs of `vit forward --rollout/--grad-rollout` and `vit explain`: maps equal to the
// fixtures and to the library, the panel files and their tree, faithfulness output, and bad input.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "cli_helpers.hpp"
#include "vit/vit.hpp"
#include "image/cv_image.hpp"

namespace fs = std::filesystem;

using namespace vit_test;

namespace {


// Reads a float32 .npy written by `vit explain --save-mask`: checks the header, returns the values.
std::vector<float> read_npy(const fs::path& p, std::string& header) {
    const std::string bytes = read_file(p);
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return {};
    const size_t len = size_t(uint8_t(bytes[8])) | size_t(uint8_t(bytes[9])) << 8;
    header = bytes.substr(10, len);
    std::vector<float> v((bytes.size() - 10 - len) / 4);
    std::memcpy(v.data(), bytes.data() + 10 + len, v.size() * 4);
    return v;
}

class ExplainCli : public Cli {
protected:
    // Expects a usage error (exit 2) whose message contains `needle`.
    void expect_usage_error(const std::string& args, const std::string& needle) {
        const Result r = run(args);
        EXPECT_FALSE(r.signaled) << args;
        EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
    }
};

float worst_error(const vit::Tensor& a, const vit::Tensor& b, bool relative) {
    const int64_t N = a.shape[0], P = a.shape[1];
    float worst = 0;
    for (int64_t n = 0; n < N; ++n) {
        float scale = 0, err = 0;
        for (int64_t j = 0; j < P; ++j) {
            scale = std::max(scale, std::fabs(b.data[size_t(n * P + j)]));
            err = std::max(err, std::fabs(a.data[size_t(n * P + j)] - b.data[size_t(n * P + j)]));
        }
        worst = std::max(worst, relative ? err / scale : err);
    }
    return worst;
}

}  // namespace

TEST_F(ExplainCli, ForwardWritesRolloutsMatchingTheFixture) {
    const std::string ref_path = kFixture + "/reference.safetensors";
    const vit::SafeTensors ref = vit::read_safetensors(ref_path);
    struct Case {
        std::string flags, rollout_key, grad_key;
    };
    for (const Case& c : {Case{"--rollout mean:0.9 --grad-rollout 3:0.9", "rollout.mean.d9", "grad_rollout.c3"},
                          Case{"--rollout max:0 --grad-rollout 0:0", "rollout.max.d0", "grad_rollout.c0.d0"},
                          Case{"--rollout min --batch 1 --grad-rollout 0", "rollout.min.d0", "grad_rollout.c0.d0"}}) {
        const fs::path out = tmp_ / "out.safetensors";
        const Result r = run("forward --model " + quote(kFixture) + " --input " + quote(ref_path) + " --output " +
                             quote(out.string()) + " " + c.flags);
        ASSERT_EQ(r.code, 0) << c.flags << "\n" << r.err;
        const vit::SafeTensors got = vit::read_safetensors(out.string());
        ASSERT_TRUE(got.tensors.count("rollout") && got.tensors.count("grad_rollout") && got.tensors.count("logits"));
        EXPECT_EQ(got.tensors.at("rollout").shape, ref.tensors.at(c.rollout_key).shape);
        EXPECT_LE(worst_error(got.tensors.at("rollout"), ref.tensors.at(c.rollout_key), false), 1e-5f) << c.flags;
        EXPECT_LE(worst_error(got.tensors.at("grad_rollout"), ref.tensors.at(c.grad_key), true), 1e-4f) << c.flags;
        EXPECT_LE(worst_error(got.tensors.at("logits"), ref.tensors.at("logits"), false), 1e-4f) << c.flags;
    }
}

TEST_F(ExplainCli, ForwardRejectsBadRolloutSpecs) {
    const std::string base = "forward --model " + quote(kFixture) + " --input " +
                             quote(kFixture + "/reference.safetensors") + " --output " +
                             quote((tmp_ / "o.safetensors").string());
    expect_usage_error(base + " --rollout avg:0.5", "--rollout must be mean, max or min");
    expect_usage_error(base + " --rollout mean:1", "--rollout must be in [0, 1)");
    expect_usage_error(base + " --rollout mean:x", "expects a number");
    expect_usage_error(base + " --grad-rollout 10:0", "out of range");
    expect_usage_error(base + " --grad-rollout -1:0", "out of range");
    EXPECT_FALSE(fs::exists(tmp_ / "o.safetensors"));
}

TEST_F(ExplainCli, PanelsMirrorTheTreeAndMasksEqualTheLibraryRollout) {
    const fs::path out = tmp_ / "panels";
    const Result r = run("explain --model " + quote(kModel) + " --output " + quote(out.string()) +
                         " --head-fusion max --discard-ratio 0.9 --size 64 --per-layer --save-mask --batch 3 " +
                         quote(kSamples));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("explained 11 images (0 failed)"), std::string::npos) << r.err;

    const vit::Model model(vit::load_checkpoint(kModel));
    const vit::PreprocessConfig& pre = model.preprocess();
    const vit::ViTConfig& c = model.config();
    size_t seen = 0;
    for (const auto& e : fs::recursive_directory_iterator(kSamples)) {
        if (!e.is_regular_file() || e.path().extension() != ".jpg") continue;
        ++seen;
        fs::path stem = out / fs::path(e.path()).lexically_relative(kSamples);
        stem.replace_extension();
        const cv::Mat panel = cv::imread(stem.string() + ".png", cv::IMREAD_UNCHANGED);
        ASSERT_FALSE(panel.empty()) << stem;
        EXPECT_EQ(panel.type(), CV_8UC3);
        EXPECT_EQ(panel.cols, 3 * 64);  // three square cells of --size
        EXPECT_GT(panel.rows, 64 + 64 / 6 * 1);  // text and a row of six per-layer maps below

        const cv::Mat mask = cv::imread(stem.string() + ".mask.png", cv::IMREAD_UNCHANGED);
        ASSERT_EQ(mask.type(), CV_16UC1) << stem;
        EXPECT_EQ(mask.rows, c.grid_h());
        EXPECT_EQ(mask.cols, c.grid_w());

        std::string header;
        const std::vector<float> npy = read_npy(stem.string() + ".mask.npy", header);
        EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
        EXPECT_NE(header.find("'shape': (8, 8)"), std::string::npos) << header;
        EXPECT_EQ((10 + header.size()) % 64, 0u);
        ASSERT_EQ(npy.size(), size_t(c.num_patches()));

        vit::Tensor x({1, c.in_chans, c.img_h, c.img_w});
        vit::preprocess(vit::load_image(e.path().string(), pre.channels), pre, x.ptr());
        vit::RolloutOptions o;
        o.fusion = vit::HeadFusion::Max;
        o.discard_ratio = 0.9f;
        const vit::Tensor expected =
            vit::attention_rollout(vit::capture_attention(model, x, {}, 1, false).attn, vit::PrefixTokens{}, o);
        float hi = 0;
        for (int j = 0; j < c.num_patches(); ++j) {
            EXPECT_NEAR(npy[size_t(j)], expected.data[size_t(j)], 1e-6f) << stem << " patch " << j;
            hi = std::max(hi, npy[size_t(j)]);
        }
        for (int j = 0; j < c.num_patches(); ++j)
            EXPECT_NEAR(mask.ptr<uint16_t>()[j], 65535.0 * npy[size_t(j)] / hi, 0.51) << stem << " patch " << j;
    }
    EXPECT_EQ(seen, 11u);
}

TEST_F(ExplainCli, GradientRolloutForAChosenClassAndNoClassTokenModel) {
    const fs::path out = tmp_ / "grad";
    Result r = run("explain --model " + quote(kModel) + " --method grad-rollout --class 3 --colormap inferno " +
                   "--output " + quote(out.string()) + " " + quote(kSamples + "/cifar10/cat_0000.jpg"));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_FALSE(cv::imread((out / "cat_0000.png").string()).empty());

    // A model with global average pooling and no class token: the map is the mean of the rollout's rows.
    const fs::path cfg = tmp_ / "avg.json";
    std::ofstream(cfg) << R"({"img_size": 16, "patch_size": 4, "num_classes": 3, "embed_dim": 24, "depth": 2,
                            "num_heads": 3, "class_token": false, "global_pool": "avg"})";
    const fs::path model = tmp_ / "avg.safetensors";
    r = run("init --model-config " + quote(cfg.string()) + " --output " + quote(model.string()));
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char* method : {"rollout", "grad-rollout"}) {
        const fs::path dir = tmp_ / (std::string("avg-") + method);
        r = run("explain --model " + quote(model.string()) + " --method " + method + " --save-mask --output " +
                quote(dir.string()) + " " + quote(kSamples + "/photos"));
        EXPECT_FALSE(r.signaled);
        ASSERT_EQ(r.code, 0) << r.err;
        std::string header;
        const std::vector<float> npy = read_npy(dir / "orange.mask.npy", header);
        ASSERT_EQ(npy.size(), 16u) << method;
        double sum = 0;
        for (float v : npy) {
            EXPECT_TRUE(std::isfinite(v) && v >= 0.0f);
            sum += v;
        }
        if (std::string(method) == "rollout") {
            EXPECT_NEAR(sum, 1.0, 1e-5);  // mean of stochastic rows
        }
    }
}

TEST_F(ExplainCli, RejectsBadOptionsWithClearMessages) {
    const std::string base = "explain --model " + quote(kModel) + " --output " + quote((tmp_ / "o").string()) + " ";
    const std::string img = quote(kSamples + "/cifar10/cat_0000.jpg");
    expect_usage_error(base + "--discard-ratio 1 " + img, "--discard-ratio must be in [0, 1)");
    expect_usage_error(base + "--discard-ratio -0.1 " + img, "--discard-ratio must be in [0, 1)");
    expect_usage_error(base + "--colormap sepia " + img, "unknown colormap 'sepia'");
    expect_usage_error(base + "--head-fusion median " + img, "--head-fusion must be mean, max or min");
    expect_usage_error(base + "--method grad-rollout --class 10 " + img, "class 10 is out of range");
    expect_usage_error(base + "--class 1 " + img, "--class needs a method that explains a class");
    expect_usage_error(base + "--method lrp " + img, "--method must be one of rollout, grad-rollout, chefer2021");
    expect_usage_error(base + "--method occlusion --per-layer " + img, "--per-layer applies to rollout");
    expect_usage_error(base + "--baseline grey " + img, "--baseline must be zero, mean or blur");
    expect_usage_error(base + "--methods all " + img, "--methods applies to --evaluate only");
    expect_usage_error(base + "--method rise --samples 0 " + img, "--samples must be in [1, 100000]");
    expect_usage_error(base + "--alpha 2 " + img, "--alpha must be in [0, 1]");
    expect_usage_error("explain --model " + quote(kModel) + " " + img, "'--output' is required");
    expect_usage_error("explain --model " + quote(kModel) + " --evaluate", "--evaluate needs --data");
}

TEST_F(ExplainCli, UnwritableOutputAndMissingInputs) {
    const std::string img = quote(kSamples + "/cifar10/cat_0000.jpg");
    const fs::path file = tmp_ / "plain-file";
    std::ofstream(file) << "x";
    Result r = run("explain --model " + quote(kModel) + " --output " + quote((file / "sub").string()) + " " + img);
    EXPECT_FALSE(r.signaled);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("cannot create output folder"), std::string::npos) << r.err;

    // A missing input is skipped with a warning; the others are still explained; exit status 1.
    const fs::path out = tmp_ / "partial";
    r = run("explain --model " + quote(kModel) + " --output " + quote(out.string()) + " " +
            quote((tmp_ / "missing.jpg").string()) + " " + img);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("skipping " + (tmp_ / "missing.jpg").string() + ": no such file"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(out / "cat_0000.png"));

    r = run("explain --model " + quote(kModel) + " --output " + quote(out.string()) + " " +
            quote((tmp_ / "nothing-here").string()));
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("no images found"), std::string::npos) << r.err;
}

TEST_F(ExplainCli, EvaluatePrintsAucTable) {
    const fs::path csv = tmp_ / "faith.csv";
    const Result r = run("explain --model " + quote(kModel) + " --evaluate --data " + quote(kSamples) +
                         " --limit 6 --batch 4 --threads 1 --csv " + quote(csv.string()));
    ASSERT_EQ(r.code, 0) << r.err;
    std::istringstream lines(read_file(csv));
    std::string line;
    std::getline(lines, line);
    // The first five columns as they always were; the standard errors come after.
    EXPECT_EQ(line, "map,deletion_auc,insertion_auc,central_mass,images,deletion_se,insertion_se");
    int rows = 0;
    while (std::getline(lines, line)) {
        ++rows;
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
        ASSERT_EQ(f.size(), 7u) << line;
        for (int k : {1, 2, 3, 5, 6}) {
            const double v = std::stod(f[size_t(k)]);
            EXPECT_GE(v, 0.0) << line;
            EXPECT_LE(v, 1.0) << line;
        }
        EXPECT_EQ(f[4], "6");
        if (f[0] == "centre prior") {
            EXPECT_GT(std::stod(f[3]), 0.5) << "a centred Gaussian keeps most mass inside";
        }
    }
    EXPECT_EQ(rows, 5);
    EXPECT_NE(r.out.find("rollout mean d0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("gradient rollout"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" ± "), std::string::npos) << "standard errors in the table: " << r.out;
}

TEST_F(ExplainCli, EvaluateScoresTheMethodsAskedForUnderTheBaselineAskedFor) {
    const Result r = run("explain --model " + quote(kModel) + " --evaluate --data " + quote(kSamples) +
                         " --limit 3 --batch 3 --threads 1 --methods occlusion,chefer2021,random --baseline blur");
    EXPECT_CLEAN_EXIT(r, 0);
    const std::vector<std::string> rows = lines_of(r.out);
    ASSERT_EQ(rows.size(), 4u) << r.out;
    EXPECT_EQ(rows[1].rfind("occlusion ", 0), 0u) << rows[1];
    EXPECT_EQ(rows[2].rfind("chefer2021 ", 0), 0u) << rows[2];
    EXPECT_EQ(rows[3].rfind("random (seed 0)", 0), 0u) << rows[3];
    EXPECT_NE(r.err.find("baseline blur"), std::string::npos) << r.err;
    expect_usage_error("explain --model " + quote(kModel) + " --evaluate --data " + quote(kSamples) +
                           " --methods occlusion,sharp",
                       "--methods: unknown map 'sharp'");
}

// The DINO view: one head of the last block, named in the panel; a head the model lacks is refused.
TEST_F(ExplainCli, LastAttentionShowsOneHeadOnRequest) {
    const fs::path out = tmp_ / "head";
    Result r = run("explain --model " + quote(kModel) + " --method last-attention --head 1 --save-mask --output " +
                   quote(out.string()) + " " + quote(kSamples + "/photos/orange.jpg"));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_TRUE(fs::exists(out / "orange.mask.npy"));
    r = run("explain --model " + quote(kModel) + " --method last-attention --head 99 --output " + quote(out.string()) +
            " " + quote(kSamples + "/photos/orange.jpg"));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("head 99 out of range"), std::string::npos) << r.err;
    expect_usage_error("explain --model " + quote(kModel) + " --head 1 --output " + quote(out.string()) + " " +
                           quote(kSamples + "/photos/orange.jpg"),
                       "--head applies to --method last-attention");
}

// Every method writes a panel per image, for a model it was not trained with (random weights).
TEST_F(ExplainCli, EveryMethodWritesPanels) {
    for (const char* method :
         {"rollout", "grad-rollout", "chefer2021", "chefer2021-lrp", "attnlrp", "last-attention", "occlusion",
          "grad-rollout-x-occlusion", "rise"}) {
        const fs::path out = tmp_ / method;
        const Result r = run("explain --model " + quote(kModel) + " --method " + method +
                             " --samples 50 --batch 4 --save-mask --output " +
                             quote(out.string()) + " " + quote(kSamples + "/photos"));
        EXPECT_CLEAN_EXIT(r, 0);
        for (const char* img : {"butterfly", "orange", "HappyFish"}) {
            EXPECT_TRUE(fs::exists(out / (std::string(img) + ".png"))) << method << " " << img;
            std::string header;
            const std::vector<float> npy = read_npy(out / (std::string(img) + ".mask.npy"), header);
            EXPECT_EQ(npy.size(), 64u) << method << " " << img;  // one value per patch of the 8x8 grid
            EXPECT_TRUE(std::all_of(npy.begin(), npy.end(), [](float v) { return std::isfinite(v); })) << method;
        }
    }
}

// The Hub variants: attention pooling without a class token (SigLIP), pre-norm with a 512-wide head
// (CLIP), each with both methods; a model without a classifier (DINOv2) gets attention rollout, and a
// plain refusal for what needs classes.
TEST_F(ExplainCli, HubVariantsGetPanelsWithBothMethods) {
    for (const char* name : {"vit_base_patch16_siglip_224.webli-mini", "vit_base_patch16_clip_224.openai-mini"})
        for (const char* method : {"rollout", "grad-rollout"}) {
            const fs::path out = tmp_ / (std::string(name) + method);
            const Result r = run("explain --model " + quote(std::string(VIT_TEST_DATA) + "/timm-hub/" + name) +
                                 " --method " + method + " --output " + quote(out.string()) + " " +
                                 quote(kSamples + "/photos"));
            EXPECT_CLEAN_EXIT(r, 0);
            for (const char* img : {"butterfly.png", "orange.png", "HappyFish.png"})
                EXPECT_TRUE(fs::exists(out / img)) << name << " " << method << " " << img;
        }
    const std::string dino = quote(std::string(VIT_TEST_DATA) + "/timm-hub/vit_small_patch14_reg4_dinov2.lvd142m-mini");
    Result r = run("explain --model " + dino + " --output " + quote((tmp_ / "dino").string()) + " " +
                   quote(kSamples + "/photos"));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_TRUE(fs::exists(tmp_ / "dino" / "butterfly.png"));
    r = run("explain --model " + dino + " --method grad-rollout --output " + quote((tmp_ / "dino2").string()) + " " +
            quote(kSamples + "/photos"));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("no classifier"), std::string::npos) << r.err;
}

namespace {

// (width, height) from a PNG's IHDR chunk.
std::pair<uint32_t, uint32_t> png_size(const fs::path& p) {
    const std::string b = read_file(p);
    if (b.size() < 24) return {0, 0};
    auto be32 = [&](size_t at) {
        return uint32_t(uint8_t(b[at])) << 24 | uint32_t(uint8_t(b[at + 1])) << 16 | uint32_t(uint8_t(b[at + 2])) << 8 |
               uint32_t(uint8_t(b[at + 3]));
    };
    return {be32(16), be32(20)};
}

}  // namespace

// A 64-pixel model on photographs of 259 to 512 pixels: by default (auto) the map is drawn over the
// photo at its own size with the text strip below; --overlay-on input gives the three-cell panel.
// The 32-pixel CIFAR samples are no larger than a 32-pixel model's input, so auto keeps the panel.
TEST_F(ExplainCli, OverlayOnTheOriginalPhotoKeepsItsSize) {
    const std::string clip = quote(std::string(VIT_TEST_DATA) + "/timm-hub/vit_base_patch16_clip_224.openai-mini");
    const fs::path original = tmp_ / "original", input = tmp_ / "input";
    Result r = run("explain --model " + clip + " --output " + quote(original.string()) + " " +
                   quote(kSamples + "/photos/butterfly.jpg"));
    EXPECT_CLEAN_EXIT(r, 0);
    const auto [w, h] = png_size(original / "butterfly.png");
    EXPECT_EQ(w, 493u) << "the photo's own width";
    EXPECT_GT(h, 356u) << "the photo's height plus the text strip";
    EXPECT_LT(h, 356u + 120u);
    r = run("explain --model " + clip + " --overlay-on input --size 64 --output " + quote(input.string()) + " " +
            quote(kSamples + "/photos/butterfly.jpg"));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_EQ(png_size(input / "butterfly.png").first, 3u * 64u) << "three 64-pixel cells";
    const fs::path cifar = tmp_ / "cifar";
    r = run("explain --model " + quote(kModel) + " --size 32 --output " + quote(cifar.string()) + " " +
            quote(kSamples + "/cifar10/cat_0000.jpg"));
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_EQ(png_size(cifar / "cat_0000.png").first, 3u * 32u);
    expect_usage_error("explain --model " + quote(kModel) + " --overlay-on photo --output " + quote(cifar.string()) +
                           " " + quote(kSamples + "/photos"),
                       "--overlay-on must be auto, original or input");
    expect_usage_error("explain --model " + quote(kModel) + " --overlay-on original --per-layer --output " +
                           quote(cifar.string()) + " " + quote(kSamples + "/photos"),
                       "--per-layer draws its maps over the model's input");
}

// --html: index.html beside the panels, opened in headless Chromium (Debian's chromium; scripts/test.sh
// installs it): its script reports how many panels loaded, and a screenshot is taken. Images in class
// folders are marked right or wrong.
TEST_F(ExplainCli, HtmlGalleryLoadsEveryPanelInHeadlessChromium) {
    if (std::system("command -v chromium >/dev/null 2>&1") != 0) GTEST_SKIP() << "chromium is not installed";
    const fs::path in = tmp_ / "in", out = tmp_ / "out with space";
    fs::create_directories(in / "cat");
    fs::copy_file(kSamples + "/cifar10/cat_0000.jpg", in / "cat" / "a #1.jpg");
    fs::copy_file(kSamples + "/cifar10/ship_0000.jpg", in / "cat" / "ship.jpg");
    Result r = run("explain --model " + quote(kSource + "/models/cifar-t.safetensors") + " --html --output " +
                   quote(out.string()) + " " + quote(in.string()) + " " + quote(kSamples + "/photos"));
    EXPECT_CLEAN_EXIT(r, 0);
    const std::string html = read_file(out / "index.html");
    ASSERT_FALSE(html.empty());
    EXPECT_EQ(html.find("http://"), std::string::npos) << "self-contained: nothing from the network";
    EXPECT_EQ(html.find("https://"), std::string::npos);
    EXPECT_NE(html.find("\"truth\":\"cat\""), std::string::npos) << "the class folder is the truth";

    const std::string url = "file://" + (out / "index.html").string();
    const std::string chromium = "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                                 "--virtual-time-budget=10000 ";
    const Result dom = run_command(chromium + "--dump-dom " + quote(url), tmp_ / "chromium.txt");
    EXPECT_NE(dom.out.find("loaded 5 of 5 images"), std::string::npos) << dom.out.substr(0, 2000) << dom.err;
    const fs::path shot = tmp_ / "gallery.png";
    run_command(chromium + "--window-size=1200,800 --screenshot=" + quote(shot.string()) + " " + quote(url),
                tmp_ / "chromium.txt");
    ASSERT_TRUE(fs::exists(shot));
    EXPECT_GT(fs::file_size(shot), 10000u);
}
