// Datasets and the batch loader on small synthetic data written to a temporary folder: image folders
// (labels, classes, pixel round-trip, resizing, corrupt files, error messages), CIFAR-10/100 and IDX
// files written byte by byte, the validation split, and the loader's determinism, augmentation and
// normalisation.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "epoch_batches.hpp"
#include "image_bombs.hpp"
#include "temp_dir.hpp"
#include "vit/data/dataset.hpp"
#include "vit/util/error.hpp"

namespace fs = std::filesystem;

namespace {

using vit_test::TempDir;

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream f(p);
    f << text;
}

// A deterministic RGB image (rows x cols) whose pixels depend on a tag, returned in RGB order.
cv::Mat make_rgb(int rows, int cols, int tag) {
    cv::Mat m(rows, cols, CV_8UC3);
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < cols; ++x)
            for (int c = 0; c < 3; ++c) m.ptr<uint8_t>(y)[3 * x + c] = uint8_t((tag * 37 + y * 11 + x * 5 + c * 71) % 256);
    return m;
}

// Writes an RGB image as PNG (OpenCV writes BGR, so swap first).
void write_png(const fs::path& p, const cv::Mat& rgb) {
    fs::create_directories(p.parent_path());
    cv::Mat bgr;
    if (rgb.channels() == 3) {
        cv::Mat planes[3];
        cv::split(rgb, planes);
        std::swap(planes[0], planes[2]);
        cv::merge(planes, 3, bgr);
    } else {
        bgr = rgb;
    }
    ASSERT_TRUE(cv::imwrite(p.string(), bgr));
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

template <class E, class F>
std::string expect_throw(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "wrong exception type: " << e.what();
        return "";
    }
    ADD_FAILURE() << "no exception";
    return "";
}

vit::LoadOptions quiet(std::vector<std::string>* warnings = nullptr) {
    vit::LoadOptions o;
    o.threads = 2;
    if (warnings) o.warn = [warnings](const std::string& w) { warnings->push_back(w); };
    return o;
}

// root/{train,test}/{cat,ant,bee}: 2 train and 1 test PNGs per class of 4x5 pixels.
void make_folder(const fs::path& root) {
    const char* classes[] = {"cat", "ant", "bee"};
    for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 2; ++i)
            write_png(root / "train" / classes[c] / ("img" + std::to_string(i) + ".png"), make_rgb(4, 5, c * 10 + i));
        write_png(root / "test" / classes[c] / "t.png", make_rgb(4, 5, 100 + c));
    }
}

bool same_pixels(const vit::Dataset& d, size_t i, const cv::Mat& rgb) {
    return std::equal(d.image(i), d.image(i) + rgb.total() * rgb.channels(), rgb.ptr<uint8_t>(0));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Image folders
// ---------------------------------------------------------------------------------------------

TEST(DataFolder, ClassesLabelsAndPixelsRoundTrip) {
    TempDir tmp;
    make_folder(tmp.path);
    write_text(tmp / "train" / "ant" / "notes.txt", "not an image");  // ignored: not an image extension
    size_t last_done = 0, last_total = 0;
    auto opts = quiet();
    opts.progress = [&](size_t d, size_t t) { last_done = d, last_total = t; };
    const vit::DataSplit s = vit::load_dataset(tmp.str(), opts);
    EXPECT_EQ(s.train.classes, (std::vector<std::string>{"ant", "bee", "cat"}));
    EXPECT_EQ(s.test.classes, s.train.classes);
    EXPECT_EQ(s.train.channels, 3);
    EXPECT_EQ(s.train.height, 4);
    EXPECT_EQ(s.train.width, 5);
    ASSERT_EQ(s.train.size(), 6u);
    ASSERT_EQ(s.test.size(), 3u);
    EXPECT_EQ(s.train.labels, (std::vector<int>{0, 0, 1, 1, 2, 2}));
    EXPECT_EQ(s.test.labels, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(s.train.pixels.size(), 6u * 4 * 5 * 3);
    // ant is original class 1, bee 2, cat 0; images sorted by file name within a class.
    EXPECT_TRUE(same_pixels(s.train, 0, make_rgb(4, 5, 10)));
    EXPECT_TRUE(same_pixels(s.train, 1, make_rgb(4, 5, 11)));
    EXPECT_TRUE(same_pixels(s.train, 4, make_rgb(4, 5, 0)));
    EXPECT_TRUE(same_pixels(s.test, 2, make_rgb(4, 5, 100)));
    EXPECT_EQ(last_done, 9u);
    EXPECT_EQ(last_total, 9u);
}

TEST(DataFolder, ChannelConversionAndGrayFolders) {
    TempDir tmp;
    make_folder(tmp.path);
    auto opts = quiet();
    opts.channels = 1;
    const vit::DataSplit s = vit::load_dataset(tmp.str(), opts);
    ASSERT_EQ(s.train.channels, 1);
    const cv::Mat rgb = make_rgb(4, 5, 10);
    for (int i = 0; i < 20; ++i) {
        const uint8_t* p = rgb.ptr<uint8_t>(0) + 3 * i;
        const int l = (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16;  // PIL's "L"
        EXPECT_EQ(s.train.image(0)[i], l) << i;
    }

    // A folder of gray PNGs keeps one channel by default and can be expanded to three.
    TempDir gray;
    cv::Mat g(3, 3, CV_8UC1);
    for (int i = 0; i < 9; ++i) g.data[i] = uint8_t(i * 20);
    write_png(gray / "train" / "a" / "x.png", g);
    write_png(gray / "test" / "a" / "x.png", g);
    const vit::DataSplit sg = vit::load_dataset(gray.str(), quiet());
    EXPECT_EQ(sg.train.channels, 1);
    EXPECT_EQ(sg.train.image(0)[4], 80);
    auto o3 = quiet();
    o3.channels = 3;
    const vit::DataSplit s3 = vit::load_dataset(gray.str(), o3);
    ASSERT_EQ(s3.train.channels, 3);
    EXPECT_EQ(s3.train.image(0)[3 * 4 + 0], 80);
    EXPECT_EQ(s3.train.image(0)[3 * 4 + 2], 80);
}

TEST(DataFolder, OtherSizesAreResizedWithAWarning) {
    TempDir tmp;
    make_folder(tmp.path);
    write_png(tmp / "train" / "bee" / "big.png", make_rgb(8, 10, 7));
    write_png(tmp / "train" / "cat" / "wide.png", make_rgb(4, 9, 8));
    std::vector<std::string> warnings;
    const vit::DataSplit s = vit::load_dataset(tmp.str(), quiet(&warnings));
    EXPECT_EQ(s.train.size(), 8u);
    EXPECT_EQ(s.train.height, 4);
    EXPECT_EQ(s.train.width, 5);
    ASSERT_EQ(warnings.size(), 2u);
    EXPECT_TRUE(contains(warnings[0], "big.png") && contains(warnings[0], "resized")) << warnings[0];
    EXPECT_TRUE(contains(warnings[1], "wide.png")) << warnings[1];

    // An explicit size resizes everything (here enlarging, bilinear).
    auto opts = quiet();
    opts.height = 6;
    opts.width = 7;
    const vit::DataSplit r = vit::load_dataset(tmp.str(), opts);
    EXPECT_EQ(r.train.height, 6);
    EXPECT_EQ(r.train.width, 7);
    EXPECT_EQ(r.train.pixels.size(), 8u * 6 * 7 * 3);
}

TEST(DataFolder, ManyResizedImagesAreReportedInAggregate) {
    TempDir tmp;
    write_png(tmp / "train" / "a" / "00.png", make_rgb(4, 4, 0));
    for (int i = 1; i <= 9; ++i) write_png(tmp / "train" / "a" / ("0" + std::to_string(i) + ".png"), make_rgb(6, 6, i));
    write_png(tmp / "test" / "a" / "x.png", make_rgb(4, 4, 0));
    std::vector<std::string> warnings;
    const vit::DataSplit s = vit::load_dataset(tmp.str(), quiet(&warnings));
    EXPECT_EQ(s.train.size(), 10u);
    ASSERT_EQ(warnings.size(), 6u);  // five individually, then the total
    EXPECT_TRUE(contains(warnings[5], "9 images")) << warnings[5];
}

TEST(DataFolder, CorruptImageIsSkippedAndReported) {
    TempDir tmp;
    make_folder(tmp.path);
    write_bytes(tmp / "train" / "bee" / "broken.png", {0x89, 'P', 'N', 'G', 1, 2, 3});
    write_bytes(tmp / "test" / "ant" / "empty.jpg", {});
    std::vector<std::string> warnings;
    const vit::DataSplit s = vit::load_dataset(tmp.str(), quiet(&warnings));
    EXPECT_EQ(s.train.size(), 6u);
    EXPECT_EQ(s.test.size(), 3u);
    EXPECT_EQ(s.train.labels, (std::vector<int>{0, 0, 1, 1, 2, 2}));
    EXPECT_TRUE(same_pixels(s.train, 4, make_rgb(4, 5, 0)));  // compaction kept the images in place
    ASSERT_EQ(warnings.size(), 2u);
    EXPECT_TRUE(contains(warnings[0], "broken.png")) << warnings[0];
    EXPECT_TRUE(contains(warnings[1], "empty.jpg")) << warnings[1];
}

TEST(DataFolder, ImageAboveThePixelLimitIsSkippedAndReported) {
    TempDir tmp;
    make_folder(tmp.path);
    // Sorted first, so it is also the image the folder's size would be taken from.
    vit_test::write_image_bytes((tmp / "train" / "ant" / "aaa_bomb.png").string(),
                                vit_test::png_declaring(20000, 20000));
    std::vector<std::string> warnings;
    const vit::DataSplit s = vit::load_dataset(tmp.str(), quiet(&warnings));
    EXPECT_EQ(s.train.size(), 6u);
    EXPECT_EQ(s.train.height, 4);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(contains(warnings[0], "aaa_bomb.png") && contains(warnings[0], "20000x20000")) << warnings[0];

    // A limit below the ordinary images' 5x4 = 20 pixels refuses every one of them.
    vit::LoadOptions tight = quiet();
    tight.image_limits.max_pixels = 19;
    const std::string message = expect_throw<vit::ConfigError>([&] { vit::load_dataset(tmp.str(), tight); });
    EXPECT_TRUE(contains(message, "could be decoded")) << message;
}

TEST(DataFolder, Errors) {
    TempDir tmp;
    EXPECT_TRUE(contains(expect_throw<vit::IoError>([&] { vit::load_dataset((tmp / "nope").string(), quiet()); }),
                         "nope"));
    fs::create_directories(tmp / "empty");
    const std::string e1 = expect_throw<vit::ConfigError>([&] { vit::load_dataset((tmp / "empty").string(), quiet()); });
    EXPECT_TRUE(contains(e1, "no class folders in")) << e1;

    make_folder(tmp / "noimg");
    fs::create_directories(tmp / "noimg" / "train" / "dog");
    fs::create_directories(tmp / "noimg" / "test" / "dog");
    write_text(tmp / "noimg" / "train" / "dog" / "readme.txt", "x");
    const std::string e2 = expect_throw<vit::ConfigError>([&] { vit::load_dataset((tmp / "noimg").string(), quiet()); });
    EXPECT_TRUE(contains(e2, (tmp / "noimg" / "train" / "dog").string())) << e2;

    make_folder(tmp / "differ");
    write_png(tmp / "differ" / "test" / "eel" / "x.png", make_rgb(4, 5, 1));
    fs::remove_all(tmp / "differ" / "test" / "bee");
    const std::string e3 = expect_throw<vit::ConfigError>([&] { vit::load_dataset((tmp / "differ").string(), quiet()); });
    EXPECT_TRUE(contains(e3, "missing in test: bee") && contains(e3, "only in test: eel")) << e3;

    auto bad = quiet();
    bad.channels = 2;
    expect_throw<vit::ConfigError>([&] { vit::load_dataset((tmp / "differ").string(), bad); });
}

TEST(DataFolder, ValidationSplitOfAFlatFolder) {
    TempDir tmp;
    for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 10; ++i)
            write_png(tmp / ("c" + std::to_string(c)) / (std::to_string(i) + ".png"), make_rgb(2, 2, c * 10 + i));
    const std::string e = expect_throw<vit::ConfigError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e, "val_split")) << e;

    auto opts = quiet();
    opts.val_split = 0.25;
    opts.seed = 7;
    const vit::DataSplit a = vit::load_dataset(tmp.str(), opts);
    const vit::DataSplit b = vit::load_dataset(tmp.str(), opts);
    EXPECT_EQ(a.train.size(), 15u);
    EXPECT_EQ(a.test.size(), 5u);
    EXPECT_EQ(a.test.pixels, b.test.pixels);
    EXPECT_EQ(a.test.classes, (std::vector<std::string>{"c0", "c1"}));
    // Train and test partition the images: each image's first pixel (tag*37 mod 256) is unique.
    std::multiset<int> seen;
    for (const vit::Dataset* d : {&a.train, &a.test})
        for (size_t i = 0; i < d->size(); ++i) seen.insert(d->image(i)[0] * 10 + d->labels[i]);
    std::multiset<int> all;
    for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 10; ++i) all.insert(((c * 10 + i) * 37 % 256) * 10 + c);
    EXPECT_EQ(seen, all);
    opts.seed = 8;
    const vit::DataSplit other = vit::load_dataset(tmp.str(), opts);
    EXPECT_NE(other.test.pixels, a.test.pixels);
}

// ---------------------------------------------------------------------------------------------
// CIFAR
// ---------------------------------------------------------------------------------------------

namespace {

// Pixel value of record r, channel c, (y, x) in our synthetic CIFAR files.
uint8_t cifar_px(int r, int c, int y, int x) { return uint8_t((r * 53 + c * 101 + y * 7 + x * 3) % 256); }

// CIFAR records: label bytes, then R plane, G plane, B plane (32x32 each, row-major).
std::vector<uint8_t> cifar_records(const std::vector<std::vector<uint8_t>>& labels, int first_tag) {
    std::vector<uint8_t> out;
    for (size_t r = 0; r < labels.size(); ++r) {
        out.insert(out.end(), labels[r].begin(), labels[r].end());
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < 32; ++y)
                for (int x = 0; x < 32; ++x) out.push_back(cifar_px(first_tag + int(r), c, y, x));
    }
    return out;
}

void check_cifar_pixels(const vit::Dataset& d, size_t i, int tag) {
    ASSERT_EQ(d.channels, 3);
    for (int y : {0, 5, 31})
        for (int x : {0, 17, 31})
            for (int c = 0; c < 3; ++c)
                EXPECT_EQ(d.image(i)[(y * 32 + x) * 3 + c], cifar_px(tag, c, y, x)) << y << "," << x << "," << c;
}

}  // namespace

TEST(DataCifar, Cifar10LayoutLabelsAndNames) {
    TempDir tmp;
    const fs::path dir = tmp / "cifar-10-batches-bin";
    write_bytes(dir / "data_batch_1.bin", cifar_records({{3}, {9}}, 0));
    write_bytes(dir / "data_batch_2.bin", cifar_records({{0}, {1}}, 2));
    write_bytes(dir / "test_batch.bin", cifar_records({{5}, {7}}, 10));
    // The parent folder is accepted too.
    for (const fs::path& p : {dir, tmp.path}) {
        const vit::DataSplit s = vit::load_dataset(p.string(), quiet());
        ASSERT_EQ(s.train.size(), 4u);
        ASSERT_EQ(s.test.size(), 2u);
        EXPECT_EQ(s.train.labels, (std::vector<int>{3, 9, 0, 1}));
        EXPECT_EQ(s.test.labels, (std::vector<int>{5, 7}));
        EXPECT_EQ(s.train.height, 32);
        EXPECT_EQ(s.train.classes.size(), 10u);
        EXPECT_EQ(s.train.classes[0], "airplane");
        EXPECT_EQ(s.train.classes[9], "truck");
        check_cifar_pixels(s.train, 1, 1);
        check_cifar_pixels(s.train, 3, 3);
        check_cifar_pixels(s.test, 0, 10);
    }
    write_text(dir / "batches.meta.txt", "a0\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n");
    EXPECT_EQ(vit::load_dataset(dir.string(), quiet()).train.classes[3], "a3");

    // Gray conversion and resizing of binary data.
    auto opts = quiet();
    opts.channels = 1;
    opts.height = opts.width = 16;
    const vit::DataSplit g = vit::load_dataset(dir.string(), opts);
    EXPECT_EQ(g.train.channels, 1);
    EXPECT_EQ(g.test.height, 16);
    EXPECT_EQ(g.train.pixels.size(), 4u * 16 * 16);
}

TEST(DataCifar, WrongLengthAndBadLabel) {
    TempDir tmp;
    std::vector<uint8_t> bytes = cifar_records({{3}, {9}}, 0);
    bytes.pop_back();
    write_bytes(tmp / "data_batch_1.bin", bytes);
    write_bytes(tmp / "test_batch.bin", cifar_records({{1}}, 0));
    const std::string e = expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e, "data_batch_1.bin") && contains(e, "3073") && contains(e, std::to_string(2 * 3073 - 1)))
        << e;
    write_bytes(tmp / "data_batch_1.bin", cifar_records({{3}, {10}}, 0));
    const std::string e2 = expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e2, "label 10")) << e2;
    // No test batch: needs a validation split.
    fs::remove(tmp / "test_batch.bin");
    write_bytes(tmp / "data_batch_1.bin", cifar_records({{3}, {4}, {5}, {6}}, 0));
    expect_throw<vit::ConfigError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    auto opts = quiet();
    opts.val_split = 0.5;
    const vit::DataSplit s = vit::load_dataset(tmp.str(), opts);
    EXPECT_EQ(s.train.size(), 2u);
    EXPECT_EQ(s.test.size(), 2u);
}

TEST(DataCifar, Cifar100CoarseAndFine) {
    TempDir tmp;
    write_bytes(tmp / "train.bin", cifar_records({{4, 99}, {19, 0}}, 0));
    write_bytes(tmp / "test.bin", cifar_records({{7, 42}, {0, 3}}, 5));
    const vit::DataSplit fine = vit::load_dataset(tmp.str(), quiet());
    EXPECT_EQ(fine.train.labels, (std::vector<int>{99, 0}));
    EXPECT_EQ(fine.test.labels, (std::vector<int>{42, 3}));
    ASSERT_EQ(fine.train.classes.size(), 100u);
    EXPECT_EQ(fine.train.classes[42], "42");
    check_cifar_pixels(fine.train, 1, 1);
    check_cifar_pixels(fine.test, 1, 6);

    auto opts = quiet();
    opts.cifar100_coarse = true;
    std::string names;
    for (int i = 0; i < 20; ++i) names += "super" + std::to_string(i) + "\n";
    write_text(tmp / "coarse_label_names.txt", names);
    const vit::DataSplit coarse = vit::load_dataset(tmp.str(), opts);
    EXPECT_EQ(coarse.train.labels, (std::vector<int>{4, 19}));
    EXPECT_EQ(coarse.test.labels, (std::vector<int>{7, 0}));
    ASSERT_EQ(coarse.train.classes.size(), 20u);
    EXPECT_EQ(coarse.train.classes[19], "super19");

    std::vector<uint8_t> bad = cifar_records({{1, 2}}, 0);
    bad.push_back(0);
    write_bytes(tmp / "test.bin", bad);
    const std::string e = expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e, "test.bin") && contains(e, "3074") && contains(e, "3075")) << e;
}

// ---------------------------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------------------------

namespace {

void put32(std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}

std::vector<uint8_t> idx_images(int n, int rows, int cols, int tag, uint32_t magic = 0x803) {
    std::vector<uint8_t> v;
    put32(v, magic);
    put32(v, n);
    put32(v, rows);
    put32(v, cols);
    for (int i = 0; i < n * rows * cols; ++i) v.push_back(uint8_t(i * 3 + tag));
    return v;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
    std::vector<uint8_t> v;
    put32(v, 0x801);
    put32(v, uint32_t(labels.size()));
    v.insert(v.end(), labels.begin(), labels.end());
    return v;
}

void write_gz(const fs::path& p, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(p.string().c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
    gzclose(f);
}

}  // namespace

TEST(DataIdx, PlainAndGzipped) {
    for (bool gz : {false, true}) {
        TempDir tmp;
        const fs::path dir = tmp / (gz ? "fashion-mnist" : "mnist");
        fs::create_directories(dir);
        auto put = [&](const std::string& name, const std::vector<uint8_t>& b) {
            if (gz) write_gz(dir / (name + ".gz"), b);
            else write_bytes(dir / name, b);
        };
        put("train-images-idx3-ubyte", idx_images(3, 2, 4, 1));
        put("train-labels-idx1-ubyte", idx_labels({7, 0, 9}));
        put("t10k-images-idx3-ubyte", idx_images(2, 2, 4, 5));
        put("t10k-labels-idx1-ubyte", idx_labels({1, 2}));
        const vit::DataSplit s = vit::load_dataset(dir.string(), quiet());
        ASSERT_EQ(s.train.size(), 3u);
        ASSERT_EQ(s.test.size(), 2u);
        EXPECT_EQ(s.train.channels, 1);
        EXPECT_EQ(s.train.height, 2);
        EXPECT_EQ(s.train.width, 4);
        EXPECT_EQ(s.train.labels, (std::vector<int>{7, 0, 9}));
        EXPECT_EQ(s.test.labels, (std::vector<int>{1, 2}));
        EXPECT_EQ(s.train.image(1)[3], uint8_t((8 + 3) * 3 + 1));
        EXPECT_EQ(s.test.image(0)[0], 5);
        EXPECT_EQ(s.train.classes[0], gz ? "T-shirt/top" : "0");
        EXPECT_EQ(s.train.classes[9], gz ? "Ankle boot" : "9");
    }
}

TEST(DataIdx, FormatErrors) {
    TempDir tmp;
    write_bytes(tmp / "train-images-idx3-ubyte", idx_images(3, 2, 2, 0, 0x00000802));
    write_bytes(tmp / "train-labels-idx1-ubyte", idx_labels({1, 2, 3}));
    write_bytes(tmp / "t10k-images-idx3-ubyte", idx_images(1, 2, 2, 0));
    write_bytes(tmp / "t10k-labels-idx1-ubyte", idx_labels({1}));
    std::string e = expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e, "train-images-idx3-ubyte") && contains(e, "0x00000802") && contains(e, "0x00000803")) << e;

    write_bytes(tmp / "train-images-idx3-ubyte", idx_images(3, 2, 2, 0));
    write_bytes(tmp / "train-labels-idx1-ubyte", idx_labels({1, 2}));
    e = expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e, "3 images") && contains(e, "2 labels")) << e;

    write_bytes(tmp / "train-labels-idx1-ubyte", idx_labels({1, 2, 10}));
    e = expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e, "10")) << e;

    std::vector<uint8_t> labels = idx_labels({1, 2, 3});
    labels[3] = 0x03;  // idx3 magic in a labels file
    write_bytes(tmp / "train-labels-idx1-ubyte", labels);
    e = expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
    EXPECT_TRUE(contains(e, "train-labels-idx1-ubyte") && contains(e, "0x00000803")) << e;

    write_bytes(tmp / "train-labels-idx1-ubyte", idx_labels({1, 2, 3}));
    std::vector<uint8_t> images = idx_images(3, 2, 2, 0);
    images.pop_back();
    write_bytes(tmp / "train-images-idx3-ubyte", images);
    expect_throw<vit::FormatError>([&] { vit::load_dataset(tmp.str(), quiet()); });
}

TEST(DataIdx, SystemFashionMnist) {
    const std::string dir = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(dir)) GTEST_SKIP() << dir << " is not installed (Debian package dataset-fashion-mnist)";
    const vit::DataSplit s = vit::load_dataset(dir, quiet());
    EXPECT_EQ(s.train.size(), 60000u);
    EXPECT_EQ(s.test.size(), 10000u);
    EXPECT_EQ(s.train.height, 28);
    EXPECT_EQ(s.train.channels, 1);
    EXPECT_EQ(s.train.classes[9], "Ankle boot");
    std::vector<int> counts(10, 0);
    for (int l : s.train.labels) ++counts[l];
    for (int c : counts) EXPECT_EQ(c, 6000);
}

// The converted CIFAR-10 folder under shared/ (60000 JPEGs): slow, so only on request.
TEST(DataFolder, SharedCifar10Folder) {
    const std::string dir = std::string(VIT_SHARED_DIR) + "/datasets/cifar10";
    if (!std::getenv("VIT_TEST_SLOW")) GTEST_SKIP() << "set VIT_TEST_SLOW=1 to load " << dir;
    if (!fs::exists(dir)) GTEST_SKIP() << dir << " does not exist";
    vit::LoadOptions opts;
    const auto t0 = std::chrono::steady_clock::now();
    const vit::DataSplit s = vit::load_dataset(dir, opts);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "loaded " << dir << " in " << sec << " s with " << std::thread::hardware_concurrency()
              << " threads\n";
    EXPECT_EQ(s.train.size(), 50000u);
    EXPECT_EQ(s.test.size(), 10000u);
    EXPECT_EQ(s.train.classes.size(), 10u);
    EXPECT_EQ(s.train.height, 32);
    EXPECT_EQ(s.train.channels, 3);
}

// ---------------------------------------------------------------------------------------------
// Statistics and the batch loader
// ---------------------------------------------------------------------------------------------

namespace {

// n RGB images of h x w with random pixels; labels i % 10.
vit::Dataset random_dataset(size_t n, int h, int w, int c = 3) {
    vit::Dataset d;
    d.channels = c;
    d.height = h;
    d.width = w;
    d.classes = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    std::mt19937 rng(1234);
    d.pixels.resize(n * h * w * c);
    for (auto& p : d.pixels) p = uint8_t(1 + rng() % 255);  // never 0, so padding zeros are recognisable
    for (size_t i = 0; i < n; ++i) d.labels.push_back(int(i % 10));
    return d;
}

using vit_test::epoch_batches;

bool same(const vit::Batch& a, const vit::Batch& b) { return a.n == b.n && a.x == b.x && a.y == b.y; }

}  // namespace

TEST(DataLoader, ChannelStats) {
    vit::Dataset d;
    d.channels = 2;
    d.height = 1;
    d.width = 2;
    d.pixels = {0, 255, 255, 255, 0, 51, 255, 51};  // channel 0: 0,255,0,255; channel 1: 255,255,51,51
    d.labels = {0, 0};
    std::vector<float> mean, std;
    vit::channel_stats(d, mean, std);
    ASSERT_EQ(mean.size(), 2u);
    EXPECT_NEAR(mean[0], 0.5, 1e-6);
    EXPECT_NEAR(std[0], 0.5, 1e-6);
    EXPECT_NEAR(mean[1], 0.6, 1e-6);
    EXPECT_NEAR(std[1], 0.4, 1e-6);
}

TEST(DataLoader, NormalisationLayoutAndOrder) {
    vit::Dataset d = random_dataset(5, 3, 4);
    const std::vector<float> mean{0.4f, 0.5f, 0.6f}, std{0.2f, 0.25f, 0.3f};
    vit::LoaderOptions in_order;
    in_order.seed = 1;
    in_order.prefetch = 2;
    vit::BatchLoader l(d, 2, vit::Augment{}, mean, std, in_order);
    EXPECT_EQ(l.batches_per_epoch(), 3u);
    const auto bs = epoch_batches(l, 0);
    ASSERT_EQ(bs.size(), 3u);
    EXPECT_EQ(bs[2].n, 1);
    EXPECT_EQ(bs[1].y, (std::vector<int>{2, 3}));
    // Image 3 is batch 1, item 1; pixel (y=2, x=1), channel 2 in planar (C, H, W).
    const uint8_t v = d.image(3)[(2 * 4 + 1) * 3 + 2];
    const float expect = (v / 255.f - 0.6f) / 0.3f;
    EXPECT_NEAR(bs[1].x[1 * 36 + 2 * 12 + 2 * 4 + 1], expect, 1e-6);

    vit::LoaderOptions drop_last = in_order;
    drop_last.drop_last = true;
    vit::BatchLoader dl(d, 2, vit::Augment{}, mean, std, drop_last);
    EXPECT_EQ(dl.batches_per_epoch(), 2u);
    EXPECT_EQ(epoch_batches(dl, 0).size(), 2u);
    EXPECT_THROW(vit::BatchLoader(d, 2, vit::Augment{}, {0.5f}, {0.5f}, in_order), vit::ConfigError);
}

TEST(DataLoader, DeterministicAcrossWorkersAndResume) {
    const vit::Dataset d = random_dataset(103, 6, 6);
    vit::Augment aug;
    aug.random_crop = true;
    aug.padding = 2;
    aug.hflip = 0.5f;
    const std::vector<float> mean(3, 0.5f), std(3, 0.25f);
    vit::LoaderOptions serial;
    serial.shuffle = true;
    serial.seed = 42;
    serial.workers = 1;
    serial.prefetch = 1;
    vit::LoaderOptions parallel = serial;
    parallel.workers = 3;
    parallel.prefetch = 4;
    vit::BatchLoader one(d, 8, aug, mean, std, serial);
    vit::BatchLoader three(d, 8, aug, mean, std, parallel);
    const auto a = epoch_batches(one, 3);
    const auto b = epoch_batches(three, 3);
    ASSERT_EQ(a.size(), 13u);
    ASSERT_EQ(b.size(), 13u);
    for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(same(a[k], b[k])) << "batch " << k;
    EXPECT_EQ(a.back().n, 103 - 12 * 8);

    // Resuming at batch 5 gives batches 5.. of the full epoch, also after a half-consumed epoch.
    vit::Batch tmp;
    three.start_epoch(1);
    three.next(tmp);
    const auto resumed = epoch_batches(three, 3, 5);
    ASSERT_EQ(resumed.size(), 8u);
    for (size_t k = 0; k < resumed.size(); ++k) EXPECT_TRUE(same(resumed[k], a[k + 5])) << "batch " << k + 5;

    // Another epoch has another order; the whole epoch still covers every image once.
    const auto c = epoch_batches(one, 4);
    EXPECT_NE(a[0].y, c[0].y);
    std::vector<int> label_count(10, 0), expect_count(10, 0);
    for (const auto& batch : c)
        for (int y : batch.y) ++label_count[y];
    for (int l : d.labels) ++expect_count[l];
    EXPECT_EQ(label_count, expect_count);
    EXPECT_GE(one.wait_seconds(), 0.0);
    // The workers' time building those batches is counted (the augmentation's cost).
    EXPECT_GT(one.busy_seconds(), 0.0);
}

TEST(DataLoader, AugmentationPadsAndFlips) {
    const int h = 5, w = 6;
    const vit::Dataset d = random_dataset(64, h, w, 1);
    const std::vector<float> mean{0.5f}, std{0.5f};
    const float zero = (0.f - 0.5f) / 0.5f;

    // Flips only: every output is the image or its mirror, and both occur.
    vit::Augment flip;
    flip.hflip = 0.5f;
    vit::LoaderOptions in_order;
    in_order.seed = 9;
    vit::BatchLoader fl(d, 64, flip, mean, std, in_order);
    const auto fb = epoch_batches(fl, 0);
    int flipped = 0, straight = 0;
    for (int i = 0; i < 64; ++i) {
        bool is_same = true, is_mirror = true;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const float out = fb[0].x[i * h * w + y * w + x];
                is_same &= std::fabs(out - (d.image(i)[y * w + x] / 255.f - 0.5f) / 0.5f) < 1e-6;
                is_mirror &= std::fabs(out - (d.image(i)[y * w + (w - 1 - x)] / 255.f - 0.5f) / 0.5f) < 1e-6;
            }
        ASSERT_TRUE(is_same || is_mirror) << i;
        flipped += is_mirror;
        straight += is_same;
    }
    EXPECT_GT(flipped, 10);
    EXPECT_GT(straight, 10);

    // Crops: the output is the image shifted by (dy, dx) in [-p, p]^2 with padding shifted in: black
    // pixels, or the dataset mean (0 once normalised) as the reference recipe pads.
    for (const bool mean_fill : {false, true}) {
        const float fill = mean_fill ? 0.0f : zero;
        vit::Augment crop;
        crop.random_crop = true;
        crop.padding = 2;
        crop.pad_fill = mean_fill ? vit::PadFill::Mean : vit::PadFill::Black;
        vit::BatchLoader cl(d, 64, crop, mean, std, in_order);
        const auto cb = epoch_batches(cl, 0);
        int with_zeros = 0;
        std::set<std::pair<int, int>> shifts;
        for (int i = 0; i < 64; ++i) {
            const float* out = cb[0].x.data() + i * h * w;
            bool matched = false;
            for (int dy = -2; dy <= 2 && !matched; ++dy)
                for (int dx = -2; dx <= 2 && !matched; ++dx) {
                    bool ok = true;
                    for (int y = 0; y < h && ok; ++y)
                        for (int x = 0; x < w && ok; ++x) {
                            const int sy = y + dy, sx = x + dx;
                            const float expect = (sy < 0 || sy >= h || sx < 0 || sx >= w)
                                                     ? fill
                                                     : (d.image(i)[sy * w + sx] / 255.f - 0.5f) / 0.5f;
                            ok = std::fabs(out[y * w + x] - expect) < 1e-6;
                        }
                    if (ok) {
                        matched = true;
                        with_zeros += (dy != 0 || dx != 0);
                        shifts.insert({dy, dx});
                    }
                }
            EXPECT_TRUE(matched) << i;
        }
        EXPECT_GT(with_zeros, 30);
        EXPECT_GE(shifts.size(), 15u);  // of the 25 possible offsets
    }
}

TEST(DataLoader, DestructorWithUnconsumedEpoch) {
    const vit::Dataset d = random_dataset(200, 8, 8);
    for (int rep = 0; rep < 5; ++rep) {
        vit::LoaderOptions lo;
        lo.shuffle = true;
        lo.seed = static_cast<uint64_t>(rep);
        lo.workers = 3;
        lo.prefetch = 2;
        vit::BatchLoader l(d, 4, vit::Augment{}, std::vector<float>(3, 0.5f), std::vector<float>(3, 0.5f), lo);
        l.start_epoch(0);
        vit::Batch b;
        ASSERT_TRUE(l.next(b));
        l.start_epoch(1, 10);  // restart while producers are busy
        ASSERT_TRUE(l.next(b));
        // The restarted loader serves exactly what a fresh one starting there serves.
        vit::BatchLoader fresh(d, 4, vit::Augment{}, std::vector<float>(3, 0.5f), std::vector<float>(3, 0.5f), lo);
        fresh.start_epoch(1, 10);
        vit::Batch want;
        ASSERT_TRUE(fresh.next(want));
        EXPECT_EQ(b.y, want.y);
        EXPECT_EQ(b.x, want.x);
    }
}
