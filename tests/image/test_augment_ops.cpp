// The augmentation operations on tiny 8-bit images against PIL 9.4's results (timm applies them to PIL
// images; the reference values are printed by scripts/pil_augment_reference.py), the RandAugment and
// TrivialAugment policies' draws and level rules, and the parser of timm's rand- strings.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vit/vit.hpp"

namespace {

const int W = 5, H = 4, C = 3;

// The test image of the reference script: pixel (x, y, c) = (37 x + 61 y + 89 c + 11 x y) % 256.
std::vector<uint8_t> rgb() {
    std::vector<uint8_t> v;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
            for (int c = 0; c < C; ++c) v.push_back(static_cast<uint8_t>((37 * x + 61 * y + 89 * c + 11 * x * y) % 256));
    return v;
}

std::vector<uint8_t> grey24() {
    std::vector<uint8_t> v;
    for (int y = 0; y < 24; ++y)
        for (int x = 0; x < 24; ++x) v.push_back(static_cast<uint8_t>(((7 * x + 13 * y + 3 * ((x * y) % 5)) % 256) / 2 + (x / 6) * 20));
    return v;
}

const std::map<std::string, std::vector<int>>& pil() {
    static const std::map<std::string, std::vector<int>> ref{
    {"invert", {255, 166, 77, 218, 129, 40, 181, 92, 3, 144, 55, 222, 107, 18, 185, 194, 105, 16, 146, 57, 224, 98, 9, 176, 50, 217, 128, 2, 169, 80, 133, 44, 211, 74, 241, 152, 15, 182, 93, 212, 123, 34, 153, 64, 231, 72, 239, 150, 2, 169, 80, 188, 99, 10, 118, 29, 196, 48, 215, 126}},
    {"posterize3", {0, 64, 160, 32, 96, 192, 64, 160, 224, 96, 192, 32, 128, 224, 64, 32, 128, 224, 96, 192, 0, 128, 224, 64, 192, 32, 96, 224, 64, 160, 96, 192, 32, 160, 0, 96, 224, 64, 160, 32, 128, 192, 96, 160, 0, 160, 0, 96, 224, 64, 160, 64, 128, 224, 128, 224, 32, 192, 32, 128}},
    {"solarize100", {0, 89, 77, 37, 129, 40, 74, 92, 3, 144, 55, 33, 107, 18, 70, 61, 105, 16, 146, 57, 31, 98, 9, 79, 50, 38, 128, 2, 86, 80, 133, 44, 44, 74, 14, 152, 15, 73, 93, 43, 123, 34, 153, 64, 24, 72, 16, 150, 2, 86, 80, 67, 99, 10, 118, 29, 59, 48, 40, 126}},
    {"solarize_add50", {50, 139, 178, 87, 176, 215, 124, 163, 252, 161, 200, 83, 148, 237, 120, 111, 150, 239, 159, 198, 81, 157, 246, 129, 205, 88, 177, 253, 136, 175, 172, 211, 94, 181, 64, 153, 240, 123, 162, 93, 132, 221, 152, 191, 74, 183, 66, 155, 253, 136, 175, 117, 156, 245, 137, 226, 109, 207, 90, 129}},
    {"autocontrast", {0, 82, 172, 37, 123, 213, 74, 163, 255, 111, 204, 10, 149, 245, 51, 61, 149, 240, 109, 202, 7, 158, 254, 61, 206, 26, 115, 255, 79, 168, 122, 216, 22, 182, 0, 88, 241, 64, 154, 43, 129, 220, 102, 194, 0, 184, 2, 90, 255, 79, 168, 67, 156, 247, 138, 233, 39, 208, 28, 117}},
    {"color0.4", {43, 79, 115, 80, 116, 152, 117, 153, 189, 136, 172, 105, 173, 209, 142, 104, 140, 176, 134, 170, 103, 182, 218, 151, 140, 74, 109, 188, 122, 157, 147, 183, 116, 116, 50, 85, 175, 109, 144, 86, 122, 158, 127, 163, 96, 118, 52, 87, 188, 122, 157, 110, 146, 182, 162, 198, 131, 142, 76, 111}},
    {"color1.7", {0, 100, 251, 0, 137, 255, 22, 174, 255, 80, 232, 0, 117, 255, 0, 9, 161, 255, 78, 230, 0, 126, 255, 0, 255, 0, 147, 255, 44, 195, 91, 243, 0, 255, 0, 123, 255, 31, 182, 0, 143, 255, 71, 223, 0, 255, 0, 125, 255, 44, 195, 15, 167, 255, 106, 255, 0, 255, 0, 149}},
    {"contrast0.3", {93, 120, 147, 104, 131, 158, 116, 142, 169, 127, 153, 103, 138, 164, 114, 112, 138, 165, 126, 153, 103, 140, 167, 117, 155, 105, 131, 169, 119, 146, 130, 157, 107, 148, 98, 124, 165, 115, 142, 106, 133, 160, 124, 151, 101, 148, 98, 125, 169, 119, 146, 113, 140, 167, 134, 161, 111, 155, 105, 132}},
    {"contrast1.6", {0, 62, 204, 0, 121, 255, 38, 180, 255, 97, 239, 0, 156, 255, 31, 17, 159, 255, 94, 236, 0, 170, 255, 46, 247, 0, 122, 255, 57, 199, 114, 255, 0, 209, 0, 84, 255, 36, 178, 0, 130, 255, 82, 225, 0, 212, 0, 87, 255, 57, 199, 26, 169, 255, 138, 255, 14, 250, 0, 126}},
    {"brightness1.5", {0, 133, 255, 55, 189, 255, 111, 244, 255, 166, 255, 49, 222, 255, 105, 91, 225, 255, 163, 255, 46, 235, 255, 118, 255, 57, 190, 255, 129, 255, 183, 255, 66, 255, 21, 154, 255, 109, 243, 64, 198, 255, 153, 255, 36, 255, 24, 157, 255, 129, 255, 100, 234, 255, 205, 255, 88, 255, 60, 193}},
    {"brightness0.3", {0, 26, 53, 11, 37, 64, 22, 48, 75, 33, 60, 9, 44, 71, 21, 18, 45, 71, 32, 59, 9, 47, 73, 23, 61, 11, 38, 75, 25, 52, 36, 63, 13, 54, 4, 30, 72, 21, 48, 12, 39, 66, 30, 57, 7, 54, 4, 31, 75, 25, 52, 20, 46, 73, 41, 67, 17, 62, 12, 38}},
    {"sharpness0.2", {0, 89, 178, 37, 126, 215, 74, 163, 252, 111, 200, 33, 148, 237, 70, 61, 150, 239, 109, 166, 94, 141, 182, 110, 173, 101, 127, 253, 86, 175, 122, 211, 44, 165, 77, 119, 192, 104, 146, 106, 132, 173, 102, 191, 24, 183, 16, 105, 253, 86, 175, 67, 156, 245, 137, 226, 59, 207, 40, 129}},
    {"sharpness1.9", {0, 89, 178, 37, 126, 215, 74, 163, 252, 111, 200, 33, 148, 237, 70, 61, 150, 239, 109, 233, 0, 175, 255, 43, 240, 0, 127, 253, 86, 175, 122, 211, 44, 199, 0, 85, 255, 37, 180, 0, 132, 255, 102, 191, 24, 183, 16, 105, 253, 86, 175, 67, 156, 245, 137, 226, 59, 207, 40, 129}},
    {"shear_x0.3", {0, 89, 178, 37, 126, 215, 74, 163, 252, 111, 200, 33, 148, 237, 70, 61, 150, 239, 109, 198, 31, 157, 246, 79, 205, 38, 127, 253, 86, 175, 181, 14, 103, 240, 73, 162, 43, 132, 221, 102, 191, 24, 128, 128, 128, 253, 86, 175, 67, 156, 245, 137, 226, 59, 207, 40, 129, 128, 128, 128}},
    {"shear_y-0.25", {0, 89, 178, 37, 126, 215, 128, 128, 128, 128, 128, 128, 128, 128, 128, 61, 150, 239, 109, 198, 31, 74, 163, 252, 111, 200, 33, 148, 237, 70, 122, 211, 44, 181, 14, 103, 157, 246, 79, 205, 38, 127, 253, 86, 175, 183, 16, 105, 253, 86, 175, 240, 73, 162, 43, 132, 221, 102, 191, 24}},
    {"translate_x1.6", {74, 163, 252, 111, 200, 33, 148, 237, 70, 128, 128, 128, 128, 128, 128, 157, 246, 79, 205, 38, 127, 253, 86, 175, 128, 128, 128, 128, 128, 128, 240, 73, 162, 43, 132, 221, 102, 191, 24, 128, 128, 128, 128, 128, 128, 67, 156, 245, 137, 226, 59, 207, 40, 129, 128, 128, 128, 128, 128, 128}},
    {"translate_y-1", {128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 0, 89, 178, 37, 126, 215, 74, 163, 252, 111, 200, 33, 148, 237, 70, 61, 150, 239, 109, 198, 31, 157, 246, 79, 205, 38, 127, 253, 86, 175, 122, 211, 44, 181, 14, 103, 240, 73, 162, 43, 132, 221, 102, 191, 24}},
    {"rotate30", {128, 128, 128, 74, 163, 252, 111, 200, 33, 253, 86, 175, 253, 86, 175, 37, 126, 215, 109, 198, 31, 157, 246, 79, 43, 132, 221, 102, 191, 24, 61, 150, 239, 109, 198, 31, 240, 73, 162, 43, 132, 221, 137, 226, 59, 122, 211, 44, 122, 211, 44, 253, 86, 175, 67, 156, 245, 128, 128, 128}},
    {"rotate-135", {128, 128, 128, 67, 156, 245, 253, 86, 175, 122, 211, 44, 61, 150, 239, 137, 226, 59, 67, 156, 245, 240, 73, 162, 109, 198, 31, 0, 89, 178, 207, 40, 129, 43, 132, 221, 157, 246, 79, 74, 163, 252, 37, 126, 215, 102, 191, 24, 253, 86, 175, 111, 200, 33, 74, 163, 252, 128, 128, 128}},
    {"rotate30_bilinear", {128, 128, 128, 69, 158, 247, 120, 170, 93, 204, 113, 126, 222, 107, 144, 23, 112, 192, 94, 183, 127, 170, 186, 96, 119, 97, 169, 107, 180, 34, 57, 146, 231, 134, 125, 72, 219, 70, 141, 114, 148, 168, 164, 137, 94, 109, 198, 83, 164, 107, 86, 204, 88, 177, 75, 164, 223, 128, 128, 128}},
    {"rotate30_bicubic", {128, 128, 128, 54, 140, 255, 119, 165, 85, 234, 83, 131, 239, 100, 153, 18, 108, 188, 82, 232, 102, 180, 192, 95, 104, 63, 208, 99, 186, 25, 54, 143, 242, 129, 125, 38, 255, 50, 127, 91, 159, 204, 170, 147, 72, 96, 249, 77, 174, 97, 66, 215, 80, 197, 33, 185, 236, 128, 128, 128}},
    {"equalize_grey", {0, 2, 6, 8, 12, 14, 42, 47, 52, 58, 64, 69, 123, 128, 135, 143, 150, 156, 209, 217, 223, 227, 234, 242, 4, 9, 13, 16, 21, 19, 54, 63, 71, 82, 76, 86, 139, 150, 160, 156, 169, 182, 229, 238, 232, 243, 251, 255, 10, 15, 21, 20, 29, 28, 67, 80, 78, 93, 90, 105, 160, 158, 173, 171, 188, 199, 234, 247, 246, 255, 255, 255, 15, 23, 25, 34, 34, 36, 83, 83, 102, 105, 105, 123, 166, 185, 185, 188, 203, 203, 255, 255, 255, 255, 255, 255, 21, 33, 36, 39, 42, 44, 102, 108, 114, 117, 119, 137, 188, 192, 196, 199, 220, 223, 255, 255, 255, 255, 255, 255, 30, 34, 39, 44, 50, 57, 102, 114, 118, 125, 132, 139, 192, 199, 205, 214, 220, 226, 255, 255, 255, 255, 255, 255, 39, 47, 54, 63, 71, 66, 119, 129, 139, 150, 147, 156, 212, 222, 229, 225, 232, 243, 255, 255, 255, 255, 255, 255, 50, 60, 69, 67, 82, 80, 135, 150, 148, 160, 158, 177, 227, 226, 238, 235, 247, 255, 255, 255, 255, 255, 73, 255, 60, 73, 73, 90, 93, 93, 153, 154, 173, 173, 177, 195, 230, 246, 247, 247, 255, 255, 255, 255, 255, 78, 78, 95, 69, 90, 95, 100, 105, 110, 171, 177, 182, 185, 190, 209, 250, 253, 255, 255, 255, 255, 255, 255, 73, 95, 100, 105, 83, 90, 100, 108, 117, 123, 173, 182, 190, 196, 203, 209, 253, 255, 255, 255, 255, 255, 73, 80, 88, 95, 105, 114, 98, 110, 119, 129, 139, 135, 192, 201, 212, 222, 217, 225, 255, 255, 255, 255, 42, 50, 98, 110, 102, 115, 125, 133, 115, 125, 139, 137, 150, 148, 207, 220, 218, 229, 227, 238, 255, 255, 44, 43, 54, 64, 105, 119, 118, 129, 145, 143, 125, 143, 145, 160, 160, 164, 223, 223, 235, 238, 238, 253, 41, 52, 52, 54, 67, 67, 128, 129, 129, 147, 148, 166, 139, 158, 164, 169, 173, 180, 235, 242, 244, 247, 251, 23, 54, 58, 62, 64, 83, 88, 135, 139, 145, 164, 169, 173, 153, 160, 169, 180, 185, 195, 235, 244, 250, 16, 19, 25, 58, 64, 69, 78, 83, 93, 143, 150, 156, 166, 173, 184, 169, 182, 192, 201, 212, 205, 251, 18, 25, 31, 29, 34, 76, 86, 98, 90, 102, 115, 166, 180, 173, 185, 196, 205, 184, 198, 209, 207, 1, 0, 21, 31, 30, 38, 36, 47, 95, 93, 110, 108, 119, 133, 177, 190, 188, 201, 214, 212, 198, 214, 214, 3, 4, 4, 33, 33, 44, 44, 47, 60, 100, 118, 119, 119, 135, 137, 199, 199, 201, 218, 218, 230, 209, 3, 6, 7, 9, 10, 43, 47, 50, 52, 57, 73, 123, 125, 129, 133, 153, 156, 205, 209, 214, 230, 234, 238, 2, 3, 7, 10, 13, 15, 44, 50, 57, 62, 67, 73, 125, 132, 139, 147, 154, 160, 214, 220, 226, 230, 238, 244, 7, 10, 14, 18, 25, 21, 58, 66, 76, 86, 80, 90, 145, 154, 166, 160, 173, 185, 232, 243, 235, 246, 255, 255, 12, 16, 25, 23, 31, 30, 71, 83, 82, 98, 95, 110, 166, 164, 180, 177, 192, 203, 238, 251, 250, 255, 255, 255, 16, 27, 28, 38, 38, 39, 88, 88, 108, 110, 110, 125, 171, 190, 190, 192, 207, 207, 255, 255, 255, 255, 255, 255}},
    };
    return ref;
}

std::vector<int> ints(const std::vector<uint8_t>& v) { return std::vector<int>(v.begin(), v.end()); }

std::vector<uint8_t> affine(const std::vector<uint8_t>& src, const std::vector<double>& m, vit::Interpolation r) {
    std::vector<uint8_t> out(src.size());
    const uint8_t fill[3] = {128, 128, 128};
    vit::affine_transform(src.data(), out.data(), H, W, C, m.data(), r, fill);
    return out;
}

std::vector<uint8_t> rotated(double degrees, vit::Interpolation r) {
    std::vector<double> m(6);
    vit::rotation_matrix(degrees, H, W, m.data());
    return affine(rgb(), m, r);
}

}  // namespace

TEST(AugmentOps, LookupTableOperationsEqualPils) {
    auto run = [](auto op) {
        std::vector<uint8_t> v = rgb();
        op(v.data());
        return ints(v);
    };
    EXPECT_EQ(run([](uint8_t* p) { vit::invert(p, H, W, C); }), pil().at("invert"));
    EXPECT_EQ(run([](uint8_t* p) { vit::posterize(p, H, W, C, 3); }), pil().at("posterize3"));
    EXPECT_EQ(run([](uint8_t* p) { vit::solarize(p, H, W, C, 100); }), pil().at("solarize100"));
    EXPECT_EQ(run([](uint8_t* p) { vit::solarize_add(p, H, W, C, 50, 128); }), pil().at("solarize_add50"));
    EXPECT_EQ(run([](uint8_t* p) { vit::auto_contrast(p, H, W, C); }), pil().at("autocontrast"));
    std::vector<uint8_t> g = grey24();
    vit::equalize(g.data(), 24, 24, 1);
    EXPECT_EQ(ints(g), pil().at("equalize_grey"));
    // By hand: posterize keeps the top bits (200 = 0b11001000 -> 0b11000000 = 192 with 3 bits);
    // solarize inverts from the threshold up.
    uint8_t px[3] = {200, 99, 100};
    vit::posterize(px, 1, 1, 3, 3);
    EXPECT_EQ(int(px[0]), 192);
    uint8_t sx[3] = {200, 99, 100};
    vit::solarize(sx, 1, 1, 3, 100);
    EXPECT_EQ(ints({sx[0], sx[1], sx[2]}), (std::vector<int>{55, 99, 155}));
}

TEST(AugmentOps, EnhancementsEqualPils) {
    auto run = [](void (*op)(uint8_t*, int, int, int, float), float f) {
        std::vector<uint8_t> v = rgb();
        op(v.data(), H, W, C, f);
        return ints(v);
    };
    EXPECT_EQ(run(vit::enhance_color, 0.4f), pil().at("color0.4"));
    EXPECT_EQ(run(vit::enhance_color, 1.7f), pil().at("color1.7"));
    EXPECT_EQ(run(vit::enhance_contrast, 0.3f), pil().at("contrast0.3"));
    EXPECT_EQ(run(vit::enhance_contrast, 1.6f), pil().at("contrast1.6"));
    EXPECT_EQ(run(vit::enhance_brightness, 1.5f), pil().at("brightness1.5"));
    EXPECT_EQ(run(vit::enhance_brightness, 0.3f), pil().at("brightness0.3"));
    EXPECT_EQ(run(vit::enhance_sharpness, 0.2f), pil().at("sharpness0.2"));
    EXPECT_EQ(run(vit::enhance_sharpness, 1.9f), pil().at("sharpness1.9"));
    // By hand: brightness 1.5 of 100 is 150; of 200 it is 300, clipped to 255.
    uint8_t b[2] = {100, 200};
    vit::enhance_brightness(b, 1, 2, 1, 1.5f);
    EXPECT_EQ(int(b[0]), 150);
    EXPECT_EQ(int(b[1]), 255);
}

TEST(AugmentOps, NearestNeighbourGeometryEqualsPils) {
    using vit::Interpolation;
    EXPECT_EQ(ints(affine(rgb(), {1, 0.3, 0, 0, 1, 0}, Interpolation::Nearest)), pil().at("shear_x0.3"));
    EXPECT_EQ(ints(affine(rgb(), {1, 0, 0, -0.25, 1, 0}, Interpolation::Nearest)), pil().at("shear_y-0.25"));
    EXPECT_EQ(ints(affine(rgb(), {1, 0, 1.6, 0, 1, 0}, Interpolation::Nearest)), pil().at("translate_x1.6"));
    EXPECT_EQ(ints(affine(rgb(), {1, 0, 0, 0, 1, -1}, Interpolation::Nearest)), pil().at("translate_y-1"));
    EXPECT_EQ(ints(rotated(30, Interpolation::Nearest)), pil().at("rotate30"));
    EXPECT_EQ(ints(rotated(-135, Interpolation::Nearest)), pil().at("rotate-135"));
    // By hand: a shift by one row down (f = -1) fills the top row and moves row y to y + 1.
    const std::vector<uint8_t> src = rgb(), down = affine(src, {1, 0, 0, 0, 1, -1}, Interpolation::Nearest);
    for (int x = 0; x < W * C; ++x) {
        EXPECT_EQ(int(down[size_t(x)]), 128);
        EXPECT_EQ(down[size_t(W * C + x)], src[size_t(x)]);
    }
}

TEST(AugmentOps, BilinearAndBicubicRotationEqualPils) {
    // PIL's own filters (bicubic with a = -1, truncation, clamped neighbours, fill outside).
    EXPECT_EQ(ints(rotated(30, vit::Interpolation::Bilinear)), pil().at("rotate30_bilinear"));
    EXPECT_EQ(ints(rotated(30, vit::Interpolation::Bicubic)), pil().at("rotate30_bicubic"));
}

TEST(AutoAugment, ParsesTimmsRandStrings) {
    vit::AutoAugment a = vit::parse_auto_augment("rand-m9-mstd0.5-inc1");
    EXPECT_EQ(a.kind, vit::AutoAugmentKind::Rand);
    EXPECT_EQ(a.magnitude, 9);
    EXPECT_EQ(a.num_layers, 2);
    EXPECT_FLOAT_EQ(a.prob, 0.5f);
    EXPECT_DOUBLE_EQ(a.magnitude_std, 0.5);
    EXPECT_TRUE(a.increasing);
    a = vit::parse_auto_augment("rand-n3-m7-p1-mmax12-mstd101");
    EXPECT_EQ(a.num_layers, 3);
    EXPECT_EQ(a.magnitude, 7);
    EXPECT_FLOAT_EQ(a.prob, 1.0f);
    EXPECT_EQ(a.magnitude_max, 12);
    EXPECT_TRUE(std::isinf(a.magnitude_std)) << "mstd above 100 means uniform magnitudes";
    EXPECT_FALSE(a.increasing);
    EXPECT_EQ(vit::parse_auto_augment("rand").magnitude, 10);
    EXPECT_EQ(vit::parse_auto_augment("trivial").kind, vit::AutoAugmentKind::TrivialWide);
    EXPECT_FALSE(vit::parse_auto_augment("none").enabled());
    EXPECT_FALSE(vit::parse_auto_augment("").enabled());
    for (const char* bad : {"rand-x3", "rand-m9x", "randm9", "augmix-m5", "rand-tweights"}) {
        try {
            vit::parse_auto_augment(bad);
            ADD_FAILURE() << bad << " should be refused";
        } catch (const vit::ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
        }
    }
}

TEST(AutoAugment, RandAugmentAppliesTimmsLevelRules) {
    // Magnitude 9 without noise, every layer applied: each argument is one of timm's values for 9/10.
    vit::AutoAugment a = vit::parse_auto_augment("rand-m9-n4-p1");
    std::set<int> ops;
    for (uint64_t seed = 0; seed < 400; ++seed) {
        const auto calls = vit::draw_auto_augment(a, seed, 32, 40);
        ASSERT_EQ(calls.size(), 4u);
        for (const auto& c : calls) {
            ops.insert(int(c.op));
            const double v = std::fabs(c.arg);
            switch (c.op) {
                case vit::AugmentOp::Rotate: EXPECT_NEAR(v, 27.0, 1e-9); break;
                case vit::AugmentOp::Posterize: EXPECT_EQ(c.arg, 3); break;
                case vit::AugmentOp::Solarize: EXPECT_EQ(c.arg, 230); break;
                case vit::AugmentOp::SolarizeAdd: EXPECT_EQ(c.arg, 99); break;
                case vit::AugmentOp::ShearX:
                case vit::AugmentOp::ShearY: EXPECT_NEAR(v, 0.27, 1e-9); break;
                case vit::AugmentOp::TranslateX: EXPECT_NEAR(v, 0.405 * 40, 1e-9); break;
                case vit::AugmentOp::TranslateY: EXPECT_NEAR(v, 0.405 * 32, 1e-9); break;
                case vit::AugmentOp::Color:
                case vit::AugmentOp::Contrast:
                case vit::AugmentOp::Brightness:
                case vit::AugmentOp::Sharpness: EXPECT_NEAR(c.arg, 1.72, 1e-9); break;
                default: EXPECT_EQ(c.arg, 0.0); break;
            }
        }
    }
    EXPECT_EQ(ops.size(), 15u) << "all of timm's RandAugment operations are drawn";
    // With inc: Posterize keeps 4 - 3 = 1 bit, Solarize starts at 256 - 230 = 26, enhancements 1 -+ 0.81.
    a = vit::parse_auto_augment("rand-m9-n4-p1-inc1");
    for (uint64_t seed = 0; seed < 200; ++seed)
        for (const auto& c : vit::draw_auto_augment(a, seed, 32, 32)) {
            if (c.op == vit::AugmentOp::Posterize) {
                EXPECT_EQ(c.arg, 1);
            } else if (c.op == vit::AugmentOp::Solarize) {
                EXPECT_EQ(c.arg, 26);
            } else if (c.op == vit::AugmentOp::Color) {
                EXPECT_NEAR(std::fabs(c.arg - 1.0), 0.81, 1e-9);
            }
        }
    // p 0.5 applies about half of the layers; the same seed draws the same operations.
    a = vit::parse_auto_augment("rand-m9-mstd0.5");
    size_t applied = 0;
    for (uint64_t seed = 0; seed < 1000; ++seed) applied += vit::draw_auto_augment(a, seed, 32, 32).size();
    EXPECT_NEAR(applied / 2000.0, 0.5, 0.04);
    const auto x = vit::draw_auto_augment(a, 77, 32, 32), y = vit::draw_auto_augment(a, 77, 32, 32);
    ASSERT_EQ(x.size(), y.size());
    for (size_t k = 0; k < x.size(); ++k) {
        EXPECT_EQ(x[k].op, y[k].op);
        EXPECT_EQ(x[k].arg, y[k].arg);
    }
}

TEST(AutoAugment, TrivialAugmentDrawsOneOperationFromTorchvisionsTables) {
    const vit::AutoAugment t = vit::parse_auto_augment("trivial");
    std::set<int> ops;
    for (uint64_t seed = 0; seed < 2000; ++seed) {
        const auto calls = vit::draw_auto_augment(t, seed, 32, 32);
        ASSERT_EQ(calls.size(), 1u);
        const auto& c = calls[0];
        ops.insert(int(c.op));
        EXPECT_EQ(c.resample, vit::Interpolation::Nearest);
        switch (c.op) {
            case vit::AugmentOp::Rotate: EXPECT_LE(std::fabs(c.arg), 135.0); break;
            case vit::AugmentOp::ShearX:
            case vit::AugmentOp::ShearY: EXPECT_LE(std::fabs(c.arg), 0.99 + 1e-6); break;
            case vit::AugmentOp::TranslateX:
            case vit::AugmentOp::TranslateY:
                EXPECT_LE(std::fabs(c.arg), 32.0);
                EXPECT_EQ(c.arg, std::trunc(c.arg)) << "whole pixels";
                break;
            case vit::AugmentOp::Posterize: EXPECT_TRUE(c.arg >= 2 && c.arg <= 8) << c.arg; break;
            case vit::AugmentOp::Solarize: EXPECT_TRUE(c.arg >= 0 && c.arg <= 255) << c.arg; break;
            case vit::AugmentOp::Color:
            case vit::AugmentOp::Contrast:
            case vit::AugmentOp::Brightness:
            case vit::AugmentOp::Sharpness: EXPECT_TRUE(c.arg >= 0.01 - 1e-6 && c.arg <= 1.99 + 1e-6) << c.arg; break;
            default: break;
        }
    }
    EXPECT_EQ(ops.size(), 14u) << "all of TrivialAugmentWide's operations are drawn";
}

TEST(AutoAugment, ApplyingACallRunsItsOperation) {
    // The policy's calls reach the operations: a translation by one whole pixel, and solarize.
    std::vector<uint8_t> v = rgb(), scratch;
    const uint8_t fill[3] = {128, 128, 128};
    vit::AugmentCall call;
    call.op = vit::AugmentOp::TranslateY;
    call.arg = -1;
    vit::apply_augment(call, v.data(), H, W, C, fill, scratch);
    EXPECT_EQ(ints(v), pil().at("translate_y-1"));
    v = rgb();
    call.op = vit::AugmentOp::Solarize;
    call.arg = 100;
    vit::apply_augment(call, v.data(), H, W, C, fill, scratch);
    EXPECT_EQ(ints(v), pil().at("solarize100"));
}
