// Preprocessing against the PIL/timm/Hugging Face references in tests/fixtures/preprocess, plus the
// decoding rules (depths, alpha, gray/colour conversion) and error handling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "temp_dir.hpp"
#include "vit/util/error.hpp"
#include "vit/image/preprocess.hpp"
#include "vit/io/safetensors.hpp"
#include "image/cv_image.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kDataDir = std::string(VIT_TEST_DATA) + "/preprocess";

using vit_test::TempDir;

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

vit::PreprocessConfig timm_config() {
    vit::PreprocessConfig c;  // vit_tiny_patch16_224 eval: 224, crop_pct 0.9, bicubic, mean/std 0.5
    c.channels = 3;
    c.height = c.width = 224;
    c.interpolation = vit::Interpolation::Bicubic;
    c.resize_mode = vit::ResizeMode::ShorterSideCrop;
    c.crop_pct = 0.9;
    c.mean = {0.5f, 0.5f, 0.5f};
    c.std = {0.5f, 0.5f, 0.5f};
    return c;
}

vit::PreprocessConfig hf_config() {
    vit::PreprocessConfig c;  // ViTImageProcessor defaults: direct 224x224 bilinear, mean/std 0.5
    c.channels = 3;
    c.height = c.width = 224;
    c.interpolation = vit::Interpolation::Bilinear;
    c.resize_mode = vit::ResizeMode::Direct;
    c.mean = {0.5f, 0.5f, 0.5f};
    c.std = {0.5f, 0.5f, 0.5f};
    return c;
}

// Mean absolute difference <= 0.01 (normalised units), printed with the largest difference.
void expect_close_to_reference(const vit::Tensor& got, const vit::Tensor& expected, const std::string& key) {
    ASSERT_EQ(got.shape, expected.shape);
    double sum = 0.0, max_abs = 0.0;
    for (int64_t i = 0; i < got.numel(); ++i) {
        const double d = std::fabs(static_cast<double>(got.data[i]) - expected.data[i]);
        sum += d;
        max_abs = std::max(max_abs, d);
    }
    const double mad = sum / static_cast<double>(got.numel());
    std::cout << "[preprocess] " << key << ": mean abs diff " << mad << ", max abs diff " << max_abs << "\n";
    ::testing::Test::RecordProperty("mean_abs_diff", std::to_string(mad));
    ::testing::Test::RecordProperty("max_abs_diff", std::to_string(max_abs));
    EXPECT_LE(mad, 0.01) << key;
}

struct FixtureCase {
    const char* pipeline;
    const char* image;
};

// ctest shows the pipeline and image, not the bytes of the struct.
void PrintTo(const FixtureCase& fc, std::ostream* os) { *os << fc.pipeline << " " << fc.image; }

class PreprocessFixture : public ::testing::TestWithParam<FixtureCase> {};

// The fixture tensors were made by timm/torchvision and transformers on PIL. The requirement is a
// mean absolute difference <= 0.01 (normalised units); a PIL-exact resampler lands far below, the
// remainder being JPEG decoder differences between libjpeg builds.
TEST_P(PreprocessFixture, MatchesPythonReference) {
    static const vit::SafeTensors ref = vit::read_safetensors(kDataDir + "/preprocess.safetensors");
    const FixtureCase fc = GetParam();
    const std::string key = std::string(fc.pipeline) + "." + fc.image;
    auto it = ref.tensors.find(key);
    ASSERT_NE(it, ref.tensors.end()) << "missing reference tensor " << key;
    const vit::Tensor& expected = it->second;
    ASSERT_EQ(expected.shape, (vit::Shape{3, 224, 224}));

    const vit::PreprocessConfig cfg = std::string(fc.pipeline) == "timm" ? timm_config() : hf_config();
    const vit::Tensor got = vit::preprocess_file(kDataDir + "/" + fc.image, cfg);
    expect_close_to_reference(got, expected, key);
}

INSTANTIATE_TEST_SUITE_P(
    Preprocess, PreprocessFixture,
    ::testing::Values(FixtureCase{"timm", "fruits.jpg"}, FixtureCase{"timm", "building_gray.png"},
                      FixtureCase{"timm", "squirrel_cls.jpg"}, FixtureCase{"timm", "cifar_frog.jpg"},
                      FixtureCase{"hf", "fruits.jpg"}, FixtureCase{"hf", "building_gray.png"},
                      FixtureCase{"hf", "squirrel_cls.jpg"}, FixtureCase{"hf", "cifar_frog.jpg"}),
    [](const ::testing::TestParamInfo<FixtureCase>& info) {
        std::string name = std::string(info.param.pipeline) + "_" + info.param.image;
        for (char& ch : name)
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return name;
    });

// timm's crop modes against timm itself (tests/fixtures/preprocess/crop_modes.safetensors, made by
// scripts/make_crop_mode_fixtures.py): bicubic, ImageNet mean/std, small model inputs.
struct CropModeCase {
    vit::ResizeMode mode;
    const char* mode_name;  // timm's crop_mode, as the fixture keys spell it
    const char* crop_pct;   // as the keys spell it
    int height, width;
    const char* image;  // a file here, or "<file>.transposed" for that image transposed (portrait)
};

class CropModeFixture : public ::testing::TestWithParam<CropModeCase> {};

TEST_P(CropModeFixture, MatchesTimmsEvalTransform) {
    static const vit::SafeTensors ref = vit::read_safetensors(kDataDir + "/crop_modes.safetensors");
    const CropModeCase cc = GetParam();
    const std::string key = std::string(cc.mode_name) + "." + cc.crop_pct + "." + std::to_string(cc.height) + "x" +
                            std::to_string(cc.width) + "." + cc.image;
    auto it = ref.tensors.find(key);
    ASSERT_NE(it, ref.tensors.end()) << "missing reference tensor " << key;
    const vit::Tensor& expected = it->second;

    vit::PreprocessConfig cfg;
    cfg.height = cc.height;
    cfg.width = cc.width;
    cfg.interpolation = vit::Interpolation::Bicubic;
    cfg.resize_mode = cc.mode;
    cfg.crop_pct = std::stod(cc.crop_pct);
    cfg.mean = {0.485f, 0.456f, 0.406f};  // timm's IMAGENET_DEFAULT_MEAN / _STD
    cfg.std = {0.229f, 0.224f, 0.225f};
    std::string file = cc.image;
    const std::string suffix = ".transposed";
    const bool transposed = file.size() > suffix.size() && file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (transposed) file.resize(file.size() - suffix.size());
    cv::Mat img = vit::load_image(kDataDir + "/" + file, 3);
    if (transposed) cv::transpose(img, img);
    vit::Tensor got(vit::Shape{3, cc.height, cc.width});
    vit::preprocess(img, cfg, got.ptr());
    expect_close_to_reference(got, expected, key);
}

std::vector<CropModeCase> crop_mode_cases() {
    std::vector<CropModeCase> cases;
    const std::pair<vit::ResizeMode, const char*> modes[] = {{vit::ResizeMode::Squash, "squash"},
                                                             {vit::ResizeMode::Border, "border"}};
    for (const auto& [mode, name] : modes) {
        for (const char* pct : {"0.875", "0.95"})
            for (const char* image : {"fruits.jpg", "building_gray.png", "squirrel_cls.jpg.transposed"})
                cases.push_back({mode, name, pct, 64, 64, image});
        for (const char* image : {"fruits.jpg", "squirrel_cls.jpg.transposed"})
            cases.push_back({mode, name, "0.875", 48, 64, image});
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(Preprocess, CropModeFixture, ::testing::ValuesIn(crop_mode_cases()),
                         [](const ::testing::TestParamInfo<CropModeCase>& info) {
                             const CropModeCase& c = info.param;
                             std::string name = std::string(c.mode_name) + "_" + c.crop_pct + "_" +
                                                std::to_string(c.height) + "x" + std::to_string(c.width) + "_" +
                                                c.image;
                             for (char& ch : name)
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return name;
                         });

// ---- errors --------------------------------------------------------------------------------------

TEST(PreprocessErrors, NonexistentFileIsIoError) {
    TempDir dir;
    const std::string path = dir.file("does_not_exist.jpg");
    try {
        vit::load_image(path, 3);
        FAIL() << "expected IoError";
    } catch (const vit::IoError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
}

TEST(PreprocessErrors, DirectoryIsIoError) {
    TempDir dir;
    const std::string path = dir.file("folder.jpg");
    fs::create_directories(path);
    EXPECT_THROW(vit::load_image(path, 3), vit::IoError);
}

TEST(PreprocessErrors, TextFileNamedJpgIsImageError) {
    TempDir dir;
    const std::string path = dir.file("not_an_image.jpg");
    write_bytes(path, "this is plain text, not a JPEG\n");
    try {
        vit::load_image(path, 3);
        FAIL() << "expected ImageError";
    } catch (const vit::ImageError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
}

TEST(PreprocessErrors, ZeroLengthFileIsImageError) {
    TempDir dir;
    const std::string path = dir.file("empty.png");
    write_bytes(path, "");
    EXPECT_THROW(vit::load_image(path, 3), vit::ImageError);
    EXPECT_THROW(vit::decode_image({}, 3, "empty buffer"), vit::ImageError);
}

TEST(PreprocessErrors, GarbageAndTruncatedBytesNeverCrash) {
    std::mt19937 rng(1234);
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<unsigned char> bytes(1 + rng() % 2000);
        for (auto& b : bytes) b = static_cast<unsigned char>(rng());
        EXPECT_THROW(vit::decode_image(bytes, 3, "garbage"), vit::ImageError);
    }
    // Valid headers followed by truncation: a decoder may give up (ImageError) or return what it
    // could decode; either is fine, crashing or another exception type is not.
    std::vector<unsigned char> png, jpg;
    cv::Mat img(40, 50, CV_8UC3, cv::Scalar(10, 20, 30));
    ASSERT_TRUE(cv::imencode(".png", img, png));
    ASSERT_TRUE(cv::imencode(".jpg", img, jpg));
    for (const auto* full : {&png, &jpg}) {
        for (size_t n : {size_t{1}, size_t{4}, size_t{8}, size_t{16}, size_t{40}, full->size() / 2, full->size() - 1}) {
            std::vector<unsigned char> part(full->begin(), full->begin() + static_cast<long>(n));
            try {
                cv::Mat m = vit::decode_image(part, 3, "truncated");
                EXPECT_EQ(m.type(), CV_8UC3);
            } catch (const vit::ImageError&) {
            }
        }
    }
}

TEST(PreprocessErrors, BadChannelCountIsConfigError) {
    EXPECT_THROW(vit::load_image(kDataDir + "/fruits.jpg", 2), vit::ConfigError);
}

// ---- decoding rules ------------------------------------------------------------------------------

TEST(PreprocessDecode, SixteenBitKeepsHighByte) {
    TempDir dir;
    // Gray 16-bit: 8-bit values stored as v * 257 come back as v; others keep their high byte.
    cv::Mat gray(2, 3, CV_16UC1);
    const uint16_t gvals[6] = {0, 257 * 77, 65535, 0x12FF, 0x0080, 257 * 200};
    for (int i = 0; i < 6; ++i) gray.at<uint16_t>(i / 3, i % 3) = gvals[i];
    const std::string gpath = dir.file("gray16.png");
    ASSERT_TRUE(cv::imwrite(gpath, gray));
    ASSERT_EQ(cv::imread(gpath, cv::IMREAD_UNCHANGED).depth(), CV_16U);
    cv::Mat g = vit::load_image(gpath, 1);
    ASSERT_EQ(g.type(), CV_8UC1);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(g.at<uint8_t>(i / 3, i % 3), gvals[i] >> 8) << i;

    // Colour 16-bit, written in OpenCV's BGR order, must come back as RGB.
    cv::Mat bgr(1, 2, CV_16UC3);
    bgr.at<cv::Vec<uint16_t, 3>>(0, 0) = {257 * 10, 257 * 20, 257 * 30};  // B, G, R
    bgr.at<cv::Vec<uint16_t, 3>>(0, 1) = {0xFFFF, 0x0100, 0x80FF};
    const std::string cpath = dir.file("rgb16.png");
    ASSERT_TRUE(cv::imwrite(cpath, bgr));
    cv::Mat c = vit::load_image(cpath, 3);
    ASSERT_EQ(c.type(), CV_8UC3);
    EXPECT_EQ(c.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10));
    EXPECT_EQ(c.at<cv::Vec3b>(0, 1), cv::Vec3b(0x80, 0x01, 0xFF));
}

TEST(PreprocessDecode, AlphaIsDroppedWithoutCompositing) {
    TempDir dir;
    cv::Mat bgra(1, 3, CV_8UC4);
    bgra.at<cv::Vec4b>(0, 0) = {10, 20, 30, 0};    // fully transparent: colour kept as is
    bgra.at<cv::Vec4b>(0, 1) = {200, 100, 50, 128};
    bgra.at<cv::Vec4b>(0, 2) = {255, 255, 255, 255};
    const std::string path = dir.file("rgba.png");
    ASSERT_TRUE(cv::imwrite(path, bgra));
    ASSERT_EQ(cv::imread(path, cv::IMREAD_UNCHANGED).channels(), 4);

    cv::Mat rgb = vit::load_image(path, 3);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10));
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(50, 100, 200));
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(255, 255, 255));

    cv::Mat l = vit::load_image(path, 1);
    ASSERT_EQ(l.type(), CV_8UC1);
    // PIL "L": (19595 R + 38470 G + 7471 B + 0x8000) >> 16
    EXPECT_EQ(l.at<uint8_t>(0, 0), (30 * 19595 + 20 * 38470 + 10 * 7471 + 0x8000) >> 16);
    EXPECT_EQ(l.at<uint8_t>(0, 1), (50 * 19595 + 100 * 38470 + 200 * 7471 + 0x8000) >> 16);
    EXPECT_EQ(l.at<uint8_t>(0, 2), 255);
}

TEST(PreprocessDecode, GrayImageForThreeChannelModelIsReplicated) {
    cv::Mat gray = vit::load_image(kDataDir + "/building_gray.png", 1);
    cv::Mat rgb = vit::load_image(kDataDir + "/building_gray.png", 3);
    ASSERT_EQ(gray.type(), CV_8UC1);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    ASSERT_EQ(rgb.size(), gray.size());
    for (int y = 0; y < gray.rows; y += 7)
        for (int x = 0; x < gray.cols; x += 5) {
            const uint8_t v = gray.at<uint8_t>(y, x);
            ASSERT_EQ(rgb.at<cv::Vec3b>(y, x), cv::Vec3b(v, v, v)) << y << "," << x;
        }

    // And the preprocessed tensor has three identical planes.
    const vit::Tensor t = vit::preprocess_file(kDataDir + "/building_gray.png", timm_config());
    ASSERT_EQ(t.shape, (vit::Shape{3, 224, 224}));
    const int64_t plane = 224 * 224;
    for (int64_t i = 0; i < plane; ++i) {
        ASSERT_EQ(t.data[i], t.data[plane + i]);
        ASSERT_EQ(t.data[i], t.data[2 * plane + i]);
    }
}

TEST(PreprocessDecode, ColourImageForOneChannelModelUsesPilLuminance) {
    const std::string path = kDataDir + "/fruits.jpg";
    cv::Mat rgb = vit::load_image(path, 3);
    cv::Mat l = vit::load_image(path, 1);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    ASSERT_EQ(l.type(), CV_8UC1);
    // RGB order: compare against the raw OpenCV decode (BGR).
    cv::Mat raw = cv::imread(path, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(raw.size(), rgb.size());
    for (int y = 0; y < rgb.rows; y += 3)
        for (int x = 0; x < rgb.cols; x += 3) {
            const cv::Vec3b p = rgb.at<cv::Vec3b>(y, x);
            const cv::Vec3b q = raw.at<cv::Vec3b>(y, x);
            ASSERT_EQ(p, cv::Vec3b(q[2], q[1], q[0]));
            ASSERT_EQ(l.at<uint8_t>(y, x), (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
        }

    vit::PreprocessConfig cfg = timm_config();
    cfg.channels = 1;
    cfg.mean = {0.5f};
    cfg.std = {0.25f};
    const vit::Tensor t = vit::preprocess_file(path, cfg);
    ASSERT_EQ(t.shape, (vit::Shape{1, 224, 224}));
    for (float v : t.data) {
        ASSERT_GE(v, -2.0f - 1e-6f);
        ASSERT_LE(v, 2.0f + 1e-6f);
    }
}

// ---- resampling and geometry ---------------------------------------------------------------------

TEST(PreprocessResize, ConstantImageStaysConstantAndSameSizeIsCopy) {
    for (auto interp : {vit::Interpolation::Bicubic, vit::Interpolation::Bilinear}) {
        cv::Mat img(37, 53, CV_8UC3, cv::Scalar(7, 128, 250));
        for (auto [w, h] : {std::pair{10, 9}, std::pair{53, 80}, std::pair{200, 11}, std::pair{1, 1}}) {
            cv::Mat r = vit::resize_like_pil(img, w, h, interp);
            ASSERT_EQ(r.size(), cv::Size(w, h));
            ASSERT_EQ(r.type(), CV_8UC3);
            EXPECT_EQ(cv::norm(r, cv::Mat(h, w, CV_8UC3, cv::Scalar(7, 128, 250)), cv::NORM_INF), 0.0);
        }
        cv::Mat same = vit::resize_like_pil(img, 53, 37, interp);
        EXPECT_EQ(cv::norm(same, img, cv::NORM_INF), 0.0);
    }
}

// Values produced by Pillow (Image.resize) on a small ramp image: checks the resampler bit for bit,
// independently of any JPEG decoder.
TEST(PreprocessResize, MatchesPillowOnSyntheticImage) {
    // img[y, x] = (x * 37 + y * 11 + (x * y) % 17 * 9) % 256, 12 wide, 9 high, mode "L".
    cv::Mat img(9, 12, CV_8UC1);
    for (int y = 0; y < 9; ++y)
        for (int x = 0; x < 12; ++x) img.at<uint8_t>(y, x) = static_cast<uint8_t>((x * 37 + y * 11 + (x * y) % 17 * 9) % 256);

    struct Case {
        int w, h;
        vit::Interpolation interp;
        std::vector<int> expected;
    };
    // Generated with Pillow 9.4: Image.fromarray(img, "L").resize((w, h), BICUBIC or BILINEAR).
    const std::vector<Case> cases = {
        {5, 4, vit::Interpolation::Bicubic,
         {40, 152, 148, 94, 136, 85, 144, 66, 149, 122, 128, 131, 80, 159, 126, 124, 99, 102, 174, 83}},
        {17, 13, vit::Interpolation::Bicubic,
         {0, 17, 46, 71, 97, 122, 148, 173, 225, 199, 10, 8, 47, 72, 97, 134, 162, 3, 25, 57, 86, 115,
          143, 174, 225, 182, 98, 39, 55, 94, 130, 170, 123, 60, 10, 36, 74, 109, 142, 181, 214, 220, 115,
          30, 91, 130, 152, 163, 217, 137, 33, 18, 47, 90, 128, 166, 220, 238, 78, 57, 106, 145, 195, 179,
          107, 151, 194, 215, 25, 58, 105, 148, 217, 193, 101, 80, 51, 43, 93, 140, 171, 167, 67, 80, 142,
          32, 69, 123, 169, 182, 116, 23, 67, 44, 23, 82, 133, 174, 186, 87, 42, 42, 40, 79, 143, 191, 56,
          23, 78, 9, 27, 88, 140, 202, 199, 139, 207, 133, 18, 47, 89, 159, 211, 61, 78, 204, 58, 74, 127,
          85, 131, 187, 208, 126, 141, 200, 54, 99, 176, 242, 136, 114, 162, 97, 93, 105, 82, 140, 204,
          220, 50, 91, 218, 62, 112, 184, 237, 222, 123, 15, 95, 79, 60, 138, 211, 222, 156, 38, 39, 93,
          69, 135, 151, 61, 195, 184, 44, 26, 55, 119, 204, 200, 119, 22, 151, 137, 54, 77, 151, 156, 22,
          89, 121, 89, 37, 88, 162, 180, 202, 166, 89, 140, 97, 23, 83, 158, 176, 55, 0, 34, 120, 77, 130,
          180, 130, 209, 255, 210, 83, 16, 5}},
        {12, 20, vit::Interpolation::Bicubic,
         {0, 35, 71, 107, 144, 180, 240, 0, 32, 68, 105, 165, 1, 39, 77, 115, 153, 194, 198, 11, 49, 89,
          127, 131, 6, 48, 90, 132, 174, 234, 98, 44, 86, 139, 181, 45, 12, 58, 105, 152, 199, 234, 28,
          83, 130, 169, 216, 10, 17, 68, 118, 169, 236, 134, 60, 126, 177, 136, 204, 119, 22, 77, 131,
          186, 244, 43, 96, 151, 206, 108, 166, 217, 27, 85, 144, 216, 158, 55, 61, 120, 179, 144, 86,
          176, 32, 95, 157, 233, 49, 96, 13, 76, 138, 195, 11, 88, 37, 104, 170, 164, 26, 71, 18, 90, 157,
          186, 61, 41, 42, 113, 183, 44, 57, 14, 55, 137, 208, 145, 183, 19, 46, 122, 197, 0, 114, 2, 91,
          136, 211, 152, 199, 67, 51, 130, 210, 16, 204, 32, 128, 87, 166, 207, 113, 190, 56, 140, 224,
          58, 219, 64, 133, 69, 153, 231, 44, 240, 61, 148, 254, 128, 110, 99, 85, 102, 200, 211, 4, 169,
          66, 157, 245, 188, 19, 111, 50, 143, 232, 167, 7, 94, 71, 167, 142, 226, 27, 67, 71, 185, 200,
          78, 106, 69, 76, 176, 30, 230, 64, 18, 110, 214, 163, 7, 205, 56, 82, 186, 16, 145, 89, 29, 144,
          191, 188, 67, 165, 34, 87, 195, 44, 33, 110, 63, 173, 146, 234, 175, 75, 15, 89, 199, 53, 0,
          119, 76, 186, 129, 253, 219, 39, 6}},
        {7, 3, vit::Interpolation::Bilinear,
         {37, 113, 167, 126, 94, 136, 125, 79, 153, 100, 70, 128, 162, 111, 117, 130, 99, 93, 164, 138, 88}},
        {20, 5, vit::Interpolation::Bilinear,
         {6, 23, 48, 74, 99, 125, 149, 175, 189, 185, 145, 96, 45, 71, 93, 113, 135, 161, 120, 93, 23, 46,
          80, 113, 147, 181, 182, 168, 125, 88, 64, 79, 112, 146, 164, 152, 139, 124, 129, 132, 44, 73,
          117, 161, 165, 92, 82, 104, 63, 43, 66, 88, 110, 154, 181, 177, 156, 128, 104, 89, 65, 100, 155,
          180, 187, 158, 128, 95, 84, 79, 87, 106, 132, 169, 186, 165, 119, 60, 104, 134, 82, 123, 186,
          105, 64, 100, 103, 88, 65, 69, 124, 154, 170, 193, 190, 134, 116, 117, 68, 35}},
        {12, 4, vit::Interpolation::Bilinear,
         {9, 54, 98, 142, 187, 180, 115, 64, 109, 123, 167, 102, 31, 94, 157, 157, 116, 70, 51, 110, 172,
          160, 111, 101, 57, 140, 205, 92, 124, 57, 95, 115, 187, 177, 87, 138, 79, 180, 77, 135, 76, 55,
          126, 171, 207, 111, 111, 46}},
    };
    for (const Case& c : cases) {
        cv::Mat r = vit::resize_like_pil(img, c.w, c.h, c.interp);
        ASSERT_EQ(r.size(), cv::Size(c.w, c.h));
        for (int i = 0; i < c.w * c.h; ++i)
            EXPECT_EQ(r.at<uint8_t>(i / c.w, i % c.w), c.expected[i])
                << vit::to_string(c.interp) << " " << c.w << "x" << c.h << " at " << i;
    }
}

TEST(PreprocessResize, LargeRgbDownscaleMatchesPillowByteForByte) {
    // The image of scripts/make_pil_downscale_fixture.py, resized by Pillow 9.4 to two sizes with each
    // filter: a factor up to 10 over three interleaved channels (photographs brought to 224 px).
    const int h = 480, w = 640;
    cv::Mat img(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>((x * 7 + y * 3 + (x * y) % 31) % 256),
                                                static_cast<uint8_t>((x * 5 + y * 11 + (x ^ y) % 23) % 256),
                                                static_cast<uint8_t>((x * y / 7 + x * 13) % 256));
    std::ifstream in(kDataDir + "/pil_downscale_rgb.bin", std::ios::binary);
    const std::vector<char> want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t at = 0;
    for (const cv::Size size : {cv::Size(61, 47), cv::Size(200, 150)})
        for (const vit::Interpolation interp : {vit::Interpolation::Bicubic, vit::Interpolation::Bilinear}) {
            const cv::Mat r = vit::resize_like_pil(img, size.width, size.height, interp);
            ASSERT_EQ(r.size(), size);
            ASSERT_LE(at + r.total() * 3, want.size()) << "fixture too short";
            int differ = 0;
            for (size_t i = 0; i < r.total() * 3; ++i) differ += r.data[i] != static_cast<uint8_t>(want[at + i]);
            EXPECT_EQ(differ, 0) << vit::to_string(interp) << " " << size.width << "x" << size.height;
            at += r.total() * 3;
        }
    EXPECT_EQ(at, want.size());
}

TEST(PreprocessGeometry, ShorterSideResizeAndHalfToEvenCrop) {
    // A 3-channel image whose pixels encode their column, 20 high and 45 wide. With size 10 and
    // crop_pct 1: shorter side 20 -> 10, longer side int(10 * 45 / 20) = 22; crop offset
    // round((22 - 10) / 2) = 6 horizontally, 0 vertically.
    vit::PreprocessConfig cfg;
    cfg.height = cfg.width = 10;
    cfg.crop_pct = 1.0;
    cfg.interpolation = vit::Interpolation::Bilinear;
    cfg.mean = {0.f, 0.f, 0.f};
    cfg.std = {1.f, 1.f, 1.f};
    cv::Mat img(20, 45, CV_8UC3);
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 45; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 5, y * 10, 100);
    cv::Mat resized = vit::resize_like_pil(img, 22, 10, cfg.interpolation);
    std::vector<float> out(3 * 10 * 10);
    vit::preprocess(img, cfg, out.data());
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 10; ++y)
            for (int x = 0; x < 10; ++x)
                ASSERT_FLOAT_EQ(out[(c * 10 + y) * 10 + x], resized.at<cv::Vec3b>(y, x + 6)[c] / 255.0f);

    // Odd difference: width 23 after resize (image 20 x 46: int(10 * 46 / 20) = 23), offset
    // round(6.5) = 6 (half to even), not 7.
    cv::Mat img2(20, 46, CV_8UC3);
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 46; ++x) img2.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 5, y * 10, 100);
    cv::Mat resized2 = vit::resize_like_pil(img2, 23, 10, cfg.interpolation);
    vit::preprocess(img2, cfg, out.data());
    for (int y = 0; y < 10; ++y)
        for (int x = 0; x < 10; ++x) ASSERT_FLOAT_EQ(out[y * 10 + x], resized2.at<cv::Vec3b>(y, x + 6)[0] / 255.0f);
}

TEST(PreprocessGeometry, CropLargerThanImageIsZeroPadded) {
    // crop_pct 2: scale size floor(8 / 2) = 4, so the 4x4 resized image is padded to 8x8 with 2
    // zero pixels each side before normalisation: (0 - 0.5) / 0.5 = -1 there.
    vit::PreprocessConfig cfg;
    cfg.height = cfg.width = 8;
    cfg.crop_pct = 2.0;
    cv::Mat img(16, 16, CV_8UC3, cv::Scalar(255, 255, 255));
    std::vector<float> out(3 * 8 * 8);
    vit::preprocess(img, cfg, out.data());
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) {
                const bool inside = y >= 2 && y < 6 && x >= 2 && x < 6;
                EXPECT_FLOAT_EQ(out[(c * 8 + y) * 8 + x], inside ? 1.0f : -1.0f) << c << "," << y << "," << x;
            }
}

TEST(PreprocessGeometry, SquashResizesBothSidesToTheScaleSizeThenCropsTheCentre) {
    // 20 x 45 image whose pixels encode their position. crop_pct 1: straight to 10 x 10, whatever the
    // aspect. crop_pct 0.8: both sides to floor(10 / 0.8) = 12, then offset round(2 / 2) = 1.
    cv::Mat img(20, 45, CV_8UC3);
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 45; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 5, y * 10, (x * y) % 251);
    vit::PreprocessConfig cfg;
    cfg.height = cfg.width = 10;
    cfg.interpolation = vit::Interpolation::Bilinear;
    cfg.resize_mode = vit::ResizeMode::Squash;
    cfg.mean = {0.f, 0.f, 0.f};
    cfg.std = {1.f, 1.f, 1.f};
    std::vector<float> out(3 * 10 * 10);
    for (const auto& [crop_pct, scale, offset] : {std::tuple{1.0, 10, 0}, std::tuple{0.8, 12, 1}}) {
        cfg.crop_pct = crop_pct;
        const cv::Mat resized = vit::resize_like_pil(img, scale, scale, cfg.interpolation);
        vit::preprocess(img, cfg, out.data());
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < 10; ++y)
                for (int x = 0; x < 10; ++x)
                    ASSERT_FLOAT_EQ(out[(c * 10 + y) * 10 + x],
                                    resized.at<cv::Vec3b>(y + offset, x + offset)[c] / 255.0f)
                        << crop_pct << " " << c << "," << y << "," << x;
    }
}

TEST(PreprocessGeometry, BorderFitsTheLongerSideAndPadsWithTheMeanColour) {
    // A white image 32 wide into 8 x 8 with crop_pct 1: ratio max(h / 8, 32 / 8) = 4, so the width
    // becomes 8 and the height round(h / 4), then CenterCropOrPad pads top (8 - h') // 2 and bottom
    // the rest with round(255 * mean) = (124, 116, 104).
    vit::PreprocessConfig cfg;
    cfg.height = cfg.width = 8;
    cfg.crop_pct = 1.0;
    cfg.resize_mode = vit::ResizeMode::Border;
    cfg.mean = {0.485f, 0.456f, 0.406f};
    cfg.std = {1.f, 1.f, 1.f};
    const float fill[3] = {124, 116, 104};
    // h = 12: 3 image rows at 2..4. h = 10: round(2.5) = 2 (half to even, not 3) image rows at 3..4.
    for (const auto& [h, first, rows] : {std::tuple{12, 2, 3}, std::tuple{10, 3, 2}}) {
        cv::Mat img(h, 32, CV_8UC3, cv::Scalar(255, 255, 255));
        std::vector<float> out(3 * 8 * 8);
        vit::preprocess(img, cfg, out.data());
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < 8; ++y)
                for (int x = 0; x < 8; ++x) {
                    const bool inside = y >= first && y < first + rows;
                    EXPECT_FLOAT_EQ(out[(c * 8 + y) * 8 + x], (inside ? 1.0f : fill[c] / 255.0f) - cfg.mean[c])
                        << "h " << h << " at " << c << "," << y << "," << x;
                }
    }
    // Mean 0.5 pads with round(127.5) = 128 (Python rounds half to even); a portrait image gets its
    // padding left (1 column) and right (2 columns): 8 x 5 after the resize of a 24 x 15 image.
    cfg.mean = {0.5f, 0.5f, 0.5f};
    cv::Mat tall(24, 15, CV_8UC3, cv::Scalar(0, 0, 0));
    std::vector<float> out(3 * 8 * 8);
    vit::preprocess(tall, cfg, out.data());
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) {
            const bool inside = x >= 1 && x < 6;
            EXPECT_FLOAT_EQ(out[y * 8 + x], inside ? -0.5f : 128.0f / 255.0f - 0.5f) << y << "," << x;
        }
}

TEST(PreprocessGeometry, DirectResizeAndNonSquareInput) {
    vit::PreprocessConfig cfg = hf_config();
    cfg.height = 16;
    cfg.width = 24;
    cv::Mat img(50, 30, CV_8UC3, cv::Scalar(0, 51, 255));
    std::vector<float> out(3 * 16 * 24);
    vit::preprocess(img, cfg, out.data());
    const int plane = 16 * 24;
    for (int i = 0; i < plane; ++i) {
        EXPECT_FLOAT_EQ(out[i], -1.0f);
        EXPECT_NEAR(out[plane + i], (0.2f - 0.5f) / 0.5f, 1e-6f);
        EXPECT_FLOAT_EQ(out[2 * plane + i], 1.0f);
    }

    // Non-square model input with the centre-crop mode still produces the configured shape.
    vit::PreprocessConfig crop = timm_config();
    crop.height = 32;
    crop.width = 48;
    const vit::Tensor t = vit::preprocess_file(kDataDir + "/squirrel_cls.jpg", crop);
    EXPECT_EQ(t.shape, (vit::Shape{3, 32, 48}));
}

}  // namespace

// Where the input window lies in the original, by hand for each resize mode (timm's eval transform:
// scale = floor(224 / 0.875) = 256).
TEST(InputPlacement, ShorterSideResizeThenCentreCrop) {
    vit::PreprocessConfig cfg;  // 224, crop_pct 0.875, shorter side + centre crop
    cfg.resize_mode = vit::ResizeMode::ShorterSideCrop;
    cfg.crop_pct = 0.875f;
    // 300 x 200 (w x h): the shorter side 200 -> 256, the longer int(256 * 300 / 200) = 384; the
    // window starts (384 - 224) / 2 = 80 across and (256 - 224) / 2 = 16 down.
    const vit::InputPlacement p = vit::input_placement(200, 300, cfg);
    EXPECT_EQ(p.resized_w, 384);
    EXPECT_EQ(p.resized_h, 256);
    EXPECT_EQ(p.left, 80);
    EXPECT_EQ(p.top, 16);
}

TEST(InputPlacement, DirectResizeHasNoCropAndBorderModePadsWithNegativeOffsets) {
    vit::PreprocessConfig cfg;
    cfg.resize_mode = vit::ResizeMode::Direct;
    vit::InputPlacement p = vit::input_placement(200, 300, cfg);
    EXPECT_EQ(p.resized_w, cfg.width);
    EXPECT_EQ(p.resized_h, cfg.height);
    EXPECT_EQ(p.left, 0);
    EXPECT_EQ(p.top, 0);
    // Border, crop_pct 1: the 300 x 200 image fits inside 224 x 224 as 224 x 149 (round(200 / (300/224))
    // = round(149.33)); 75 rows of padding, 37 above: the window starts 37 rows above the image.
    cfg.resize_mode = vit::ResizeMode::Border;
    cfg.crop_pct = 1.0f;
    p = vit::input_placement(200, 300, cfg);
    EXPECT_EQ(p.resized_w, 224);
    EXPECT_EQ(p.resized_h, 149);
    EXPECT_EQ(p.left, 0);
    EXPECT_EQ(p.top, -37);
}
