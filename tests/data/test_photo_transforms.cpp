// timm's training transform for photos: the random resized crop's box as torchvision samples it (inside
// the image, within the scale and ratio ranges, the centre fallback), its pixels against torchvision's
// F.resized_crop on PIL (tests/fixtures/resized_crop, scripts/make_resized_crop_fixture.py), and the
// colour jitter's brightness as PIL's ImageEnhance computes it.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/image_reader.hpp"
#include "expect_error.hpp"
#include "vit/data/augment/color_jitter.hpp"
#include "vit/data/augment/resized_crop.hpp"
#include "vit/util/error.hpp"

namespace {

const std::string kDir = std::string(VIT_TEST_DATA) + "/resized_crop/";

cv::Mat read_rgb(const std::string& path) {
    cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    EXPECT_FALSE(bgr.empty()) << path;
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace

TEST(ResizedCrop, BoxesLieInsideTheImageWithinTheScaleAndRatioRanges) {
    vit::ResizedCrop rc;
    rc.enabled = true;
    std::set<std::pair<int, int>> sizes;
    int bilinear = 0;
    for (uint64_t seed = 0; seed < 2000; ++seed) {
        const vit::CropBox b = vit::sample_resized_crop(rc, 375, 500, seed);
        ASSERT_GE(b.top, 0);
        ASSERT_GE(b.left, 0);
        ASSERT_LE(b.top + b.height, 375);
        ASSERT_LE(b.left + b.width, 500);
        // w and h are rounded from the drawn area and ratio, so allow half a pixel either way.
        const double area = double(b.height) * b.width / (375.0 * 500.0);
        EXPECT_LE(area, 1.0);
        EXPECT_GE((b.height + 1.0) * (b.width + 1.0) / (375.0 * 500.0), 0.08) << b.height << "x" << b.width;
        EXPECT_LE((b.width - 0.5) / (b.height + 0.5), 4.0 / 3.0) << b.height << "x" << b.width;
        EXPECT_GE((b.width + 0.5) / (b.height - 0.5), 3.0 / 4.0) << b.height << "x" << b.width;
        sizes.insert({b.height, b.width});
        bilinear += b.interpolation == vit::Interpolation::Bilinear;
    }
    EXPECT_GT(sizes.size(), 500u);  // the draws spread, they are not one box
    // timm's "random" interpolation: bilinear or bicubic with a fair coin.
    EXPECT_GT(bilinear, 900);
    EXPECT_LT(bilinear, 1100);
    // The same seed, the same box.
    const vit::CropBox a = vit::sample_resized_crop(rc, 375, 500, 77), b = vit::sample_resized_crop(rc, 375, 500, 77);
    EXPECT_EQ(std::make_tuple(a.top, a.left, a.height, a.width), std::make_tuple(b.top, b.left, b.height, b.width));
}

TEST(ResizedCrop, WhenNoDrawFitsTheCentreCropWithTheNearestAllowedRatioIsTaken) {
    // A 100-row, 10-column image and square boxes of at least 90% of its area: every side drawn is
    // about 30 > 10, so all ten attempts fail. torchvision's fallback: the image's ratio 0.1 is below
    // the range, so w = 10, h = round(10 / 1) = 10, centred: top (100 - 10) // 2 = 45, left 0.
    vit::ResizedCrop rc;
    rc.scale = {0.9, 1.0};
    rc.ratio = {1.0, 1.0};
    rc.interpolation = vit::TrainInterpolation::Bicubic;
    const vit::CropBox tall = vit::sample_resized_crop(rc, 100, 10, 3);
    EXPECT_EQ(tall.top, 45);
    EXPECT_EQ(tall.left, 0);
    EXPECT_EQ(tall.height, 10);
    EXPECT_EQ(tall.width, 10);
    EXPECT_EQ(tall.interpolation, vit::Interpolation::Bicubic);
    // Wide (ratio 10 above the range): h = 10, w = round(10 * 1) = 10, left (100 - 10) // 2 = 45.
    const vit::CropBox wide = vit::sample_resized_crop(rc, 10, 100, 3);
    EXPECT_EQ(std::make_tuple(wide.top, wide.left, wide.height, wide.width), std::make_tuple(0, 45, 10, 10));
}

TEST(ResizedCrop, OutOfRangeSettingsAreRefusedNamingTheField) {
    vit::ResizedCrop rc;
    rc.scale = {0.5, 0.2};
    EXPECT_NE(vit_test::error_of<vit::FieldError>([&] { rc.validate(); }).find("scale"), std::string::npos);
    rc.scale = {0.08, 1.0};
    rc.ratio = {0.0, 1.0};
    EXPECT_NE(vit_test::error_of<vit::FieldError>([&] { rc.validate(); }).find("ratio"), std::string::npos);
    EXPECT_EQ(vit::parse_train_interpolation("random"), vit::TrainInterpolation::Random);
    EXPECT_THROW(vit::parse_train_interpolation("nearest"), vit::ConfigError);
}

TEST(ResizedCrop, PixelsEqualTorchvisionsResizedCropOnPil) {
    const cv::Mat input = read_rgb(kDir + "input.png");
    std::ifstream cases(kDir + "cases.txt");
    ASSERT_TRUE(cases) << kDir;
    std::string line;
    int n = 0;
    while (std::getline(cases, line)) {
        std::istringstream in(line);
        std::string file, filter;
        vit::CropBox box;
        int ow = 0, oh = 0;
        in >> file >> box.top >> box.left >> box.height >> box.width >> filter >> ow >> oh;
        box.interpolation = vit::parse_interpolation(filter);
        const cv::Mat want = read_rgb(kDir + file);
        ASSERT_EQ(want.rows, oh) << file;
        cv::Mat got(oh, ow, CV_8UC3);
        vit::data_detail::resized_crop_into(input, box, oh, ow, got.data);
        int max_diff = 0;
        for (size_t k = 0; k < got.total() * 3; ++k) max_diff = std::max(max_diff, std::abs(int(got.data[k]) - int(want.data[k])));
        EXPECT_EQ(max_diff, 0) << file;
        ++n;
    }
    EXPECT_EQ(n, 10);
}

TEST(ColorJitter, BrightnessScalesEveryPixelByOneFactorInItsRange) {
    const int H = 6, W = 7, C = 3;
    std::vector<uint8_t> img(H * W * C);
    for (size_t k = 0; k < img.size(); ++k) img[k] = uint8_t(20 + (k * 7) % 200);
    vit::ColorJitter cj;
    cj.brightness = 0.4f;
    std::set<int> seen;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        std::vector<uint8_t> out = img;
        vit::color_jitter(cj, seed, out.data(), H, W, C);
        // PIL's Brightness blends with black: out = clip(round(v * f)); f fitted by least squares over
        // the pixels below the clip.
        double ov = 0, vv = 0;
        for (size_t k = 0; k < img.size(); ++k)
            if (out[k] < 255) {
                ov += double(out[k]) * img[k];
                vv += double(img[k]) * img[k];
            }
        const double f = ov / vv;
        const size_t top = size_t(std::max_element(img.begin(), img.end()) - img.begin());
        EXPECT_GE(f, 0.6 - 0.01);
        EXPECT_LE(f, 1.4 + 0.01);
        for (size_t k = 0; k < img.size(); ++k)
            EXPECT_NEAR(out[k], std::min(255.0, img[k] * f), 1.5) << "seed " << seed << " pixel " << k;
        seen.insert(out[top]);
    }
    EXPECT_GT(seen.size(), 10u);
    // Off: the image is untouched; out of range: refused.
    vit::ColorJitter off;
    std::vector<uint8_t> same = img;
    EXPECT_FALSE(off.enabled());
    vit::color_jitter(off, 5, same.data(), H, W, C);
    EXPECT_EQ(same, img);
    cj.saturation = 1.5f;
    EXPECT_NE(vit_test::error_of<vit::FieldError>([&] { cj.validate(); }).find("saturation"), std::string::npos);
}
