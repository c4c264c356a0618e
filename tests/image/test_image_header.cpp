// Image sizes read from headers, and images refused above the pixel limit before they are decoded.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "expect_error.hpp"
#include "image_bombs.hpp"
#include "temp_dir.hpp"
#include "vit/util/error.hpp"
#include "vit/image/header.hpp"
#include "vit/image/preprocess.hpp"
#include "image/cv_image.hpp"

namespace {

using vit_test::error_of;

struct Encoded {
    std::string ext;
    std::vector<int> params;
    int type;  // what OpenCV is given: gray or colour
};

// Every format vit reads, in the variants OpenCV writes (WebP lossy is a VP8 chunk, lossless VP8L).
std::vector<Encoded> encodings() {
    std::vector<Encoded> all = {{".png", {}, CV_8UC3},  {".png", {}, CV_16UC1}, {".jpg", {}, CV_8UC3},
                                {".jpg", {}, CV_8UC1},  {".bmp", {}, CV_8UC3},  {".tiff", {}, CV_8UC3},
                                {".ppm", {}, CV_8UC3},  {".pgm", {}, CV_8UC1},  {".pbm", {}, CV_8UC1},
                                {".pam", {}, CV_8UC3},  {".webp", {cv::IMWRITE_WEBP_QUALITY, 80}, CV_8UC3},
                                {".webp", {cv::IMWRITE_WEBP_QUALITY, 101}, CV_8UC3}};
    std::vector<Encoded> available;
    for (const auto& e : all)
        if (cv::haveImageWriter(e.ext)) available.push_back(e);
    return available;
}

std::vector<unsigned char> encode(const Encoded& e, int width, int height) {
    cv::Mat m(height, width, e.type, cv::Scalar::all(90));
    std::vector<unsigned char> bytes;
    EXPECT_TRUE(cv::imencode(e.ext, m, bytes, e.params)) << e.ext;
    return bytes;
}

TEST(ImageHeader, ReadsTheSizeOfEveryFormatVitReads) {
    const auto formats = encodings();
    ASSERT_GE(formats.size(), 9u) << "OpenCV writes fewer formats than expected";
    for (const Encoded& e : formats) {
        const std::vector<unsigned char> bytes = encode(e, 37, 23);
        const auto header = vit::read_image_header(bytes.data(), bytes.size());
        ASSERT_TRUE(header.has_value()) << e.ext;
        EXPECT_EQ(header->width, 37u) << e.ext;
        EXPECT_EQ(header->height, 23u) << e.ext;
        // The header agrees with what OpenCV decodes.
        const cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
        EXPECT_EQ(decoded.cols, 37) << e.ext;
        EXPECT_EQ(decoded.rows, 23) << e.ext;
    }
}

TEST(ImageHeader, NoPrefixOfAnImageIsMisread) {
    // A header cut anywhere is either unreadable or read in full: never a wrong size, never a read past
    // the end (the sanitizer build checks the latter).
    for (const Encoded& e : encodings()) {
        const std::vector<unsigned char> bytes = encode(e, 300, 200);
        for (size_t n = 0; n <= std::min<size_t>(bytes.size(), 400); ++n) {
            const std::vector<unsigned char> part(bytes.begin(), bytes.begin() + static_cast<long>(n));
            const auto header = vit::read_image_header(part.data(), part.size());
            if (header) {
                EXPECT_EQ(header->width, 300u) << e.ext << " cut at " << n;
                EXPECT_EQ(header->height, 200u) << e.ext << " cut at " << n;
            }
        }
    }
}

TEST(ImageHeader, NetpbmCommentsAndPamKeywordsAreSkipped) {
    const std::string ppm = "P6\n# made by hand\n 40000\t# width\n30000\n255\n";
    auto h = vit::read_image_header(reinterpret_cast<const unsigned char*>(ppm.data()), ppm.size());
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->width, 40000u);
    EXPECT_EQ(h->height, 30000u);
    const std::string pam = "P7\nDEPTH 3\nHEIGHT 7\nWIDTH 5\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n";
    h = vit::read_image_header(reinterpret_cast<const unsigned char*>(pam.data()), pam.size());
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->width, 5u);
    EXPECT_EQ(h->height, 7u);
}

TEST(ImageHeader, PixelCountSaturatesInsteadOfOverflowing) {
    vit::ImageHeader h;
    h.width = h.height = uint64_t(1) << 40;  // a BigTIFF may declare 64-bit sides
    EXPECT_EQ(h.pixels(), UINT64_MAX);
}

TEST(ImageLimits, DefaultIsWherePilRefuses) {
    EXPECT_EQ(vit::ImageLimits{}.max_pixels, 178956970u);  // 2 * PIL's Image.MAX_IMAGE_PIXELS
}

TEST(ImageLimits, PngDeclaring20000x20000IsRefusedBeforeDecoding) {
    const std::vector<unsigned char> bomb = vit_test::png_declaring(20000, 20000);
    ASSERT_LT(bomb.size(), 1000u);
    const std::string message =
        error_of<vit::ImageTooLargeError>([&] { vit::decode_image(bomb, 3, "bomb.png"); });
    EXPECT_NE(message.find("bomb.png"), std::string::npos) << message;
    EXPECT_NE(message.find("20000x20000"), std::string::npos) << message;
    EXPECT_NE(message.find("178956970"), std::string::npos) << message;
}

TEST(ImageLimits, JpegDeclaringTooManyPixelsIsRefused) {
    vit_test::TempDir dir;
    const std::string path = dir.file("bomb.jpg");
    vit_test::write_image_bytes(path, vit_test::jpeg_declaring(30000, 20000));
    const std::string message = error_of<vit::ImageTooLargeError>([&] { vit::load_image(path, 3); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("30000x20000"), std::string::npos) << message;
}

TEST(ImageLimits, ALowerLimitRefusesAnOrdinaryImageAndTheExactSizePasses) {
    const std::string path = std::string(VIT_TEST_DATA) + "/preprocess/fruits.jpg";
    const cv::Mat full = vit::load_image(path, 3);
    const uint64_t pixels = uint64_t(full.cols) * uint64_t(full.rows);
    vit::ImageLimits limits;
    limits.max_pixels = pixels - 1;
    const std::string message = error_of<vit::ImageTooLargeError>([&] { vit::load_image(path, 3, limits); });
    EXPECT_NE(message.find(std::to_string(pixels - 1)), std::string::npos) << message;
    limits.max_pixels = pixels;
    EXPECT_EQ(vit::load_image(path, 3, limits).size(), full.size());
}

TEST(ImageLimits, BytesOfNoKnownFormatAreNotDecoded) {
    const std::string pfm = "Pf\n4 4\n-1.0\n";  // OpenCV reads PFM, vit does not accept it
    const std::vector<unsigned char> bytes(pfm.begin(), pfm.end());
    const std::string message = error_of<vit::ImageError>([&] { vit::decode_image(bytes, 3, "x.pfm"); });
    EXPECT_NE(message.find("x.pfm"), std::string::npos) << message;
    EXPECT_NE(message.find("not a JPEG, PNG"), std::string::npos) << message;
}

TEST(ImageLimits, ZeroPixelsIsAConfigError) {
    vit::ImageLimits limits;
    limits.max_pixels = 0;
    EXPECT_THROW(limits.validate(), vit::ConfigError);
}

}  // namespace
