// Datasets held in memory as 8-bit (N, H, W, C) images: format detection, the binary readers (CIFAR,
// IDX), the image-folder reader with its decoding pool, channel/size conversion and the validation
// split. The batch loader lives in src/data/batch_loader.cpp.
#include "vit/data.hpp"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/random.hpp"
#include "vit/error.hpp"
#include "vit/preprocess.hpp"

namespace fs = std::filesystem;

namespace vit {
namespace {

constexpr int kCifarSide = 32;
constexpr int kCifarPlane = kCifarSide * kCifarSide;  // one colour plane of a record
constexpr int kCifarPixels = 3 * kCifarPlane;
constexpr uint32_t kIdxImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr size_t kMaxIndividualWarnings = 5;

const std::vector<std::string> kCifar10Names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};
const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::vector<std::string> index_names(int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back(std::to_string(i));
    return v;
}

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

void warn(const LoadOptions& opts, const std::string& msg) {
    if (opts.warn) opts.warn(msg);
}

size_t image_bytes(const Dataset& d) { return size_t(d.height) * d.width * d.channels; }

// ---------------------------------------------------------------------------------------------
// Pixel conversions
// ---------------------------------------------------------------------------------------------

// PIL's "L" conversion: ITU-R 601-2 luma with weights 0.299, 0.587, 0.114 scaled by 2^16 (they sum
// to exactly 65536, so white stays 255), rounded by adding half before the shift.
inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
    return static_cast<uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

cv::Mat rgb_to_gray(const cv::Mat& rgb) {
    cv::Mat out(rgb.rows, rgb.cols, CV_8UC1);
    for (int y = 0; y < rgb.rows; ++y) {
        const uint8_t* s = rgb.ptr<uint8_t>(y);
        uint8_t* d = out.ptr<uint8_t>(y);
        for (int x = 0; x < rgb.cols; ++x) d[x] = luma(s[3 * x], s[3 * x + 1], s[3 * x + 2]);
    }
    return out;
}

cv::Mat gray_to_rgb(const cv::Mat& gray) {
    cv::Mat out(gray.rows, gray.cols, CV_8UC3);
    for (int y = 0; y < gray.rows; ++y) {
        const uint8_t* s = gray.ptr<uint8_t>(y);
        uint8_t* d = out.ptr<uint8_t>(y);
        for (int x = 0; x < gray.cols; ++x) d[3 * x] = d[3 * x + 1] = d[3 * x + 2] = s[x];
    }
    return out;
}

// Area averaging when shrinking (each output pixel is the mean of the input pixels it covers, so no
// aliasing); bilinear when enlarging or mixed, where area averaging degenerates to nearest-neighbour
// blocks.
cv::Mat resize_to(const cv::Mat& m, int height, int width) {
    const bool shrinking = height <= m.rows && width <= m.cols;
    cv::Mat out;
    cv::resize(m, out, cv::Size(width, height), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
}

void copy_into(const cv::Mat& m, uint8_t* dst) {
    const size_t row = size_t(m.cols) * m.channels();
    for (int y = 0; y < m.rows; ++y) std::memcpy(dst + y * row, m.ptr<uint8_t>(y), row);
}

// Brings a dataset read from a binary format to the requested channels and size (0 keeps its own).
void conform(Dataset& d, int channels, int height, int width) {
    const int c = channels ? channels : d.channels;
    const int h = height ? height : d.height;
    const int w = width ? width : d.width;
    if (c == d.channels && h == d.height && w == d.width) return;
    const size_t n = d.size();
    std::vector<uint8_t> out(n * size_t(h) * w * c);
    const size_t out_bytes = size_t(h) * w * c;
    for (size_t i = 0; i < n; ++i) {
        cv::Mat m(d.height, d.width, CV_8UC(d.channels), const_cast<uint8_t*>(d.image(i)));
        // Fewer channels first and more channels last, so the resize runs on the smaller image.
        if (c == 1 && d.channels == 3) m = rgb_to_gray(m);
        if (m.rows != h || m.cols != w) m = resize_to(m, h, w);
        if (c == 3 && m.channels() == 1) m = gray_to_rgb(m);
        copy_into(m, out.data() + i * out_bytes);
    }
    d.pixels = std::move(out);
    d.channels = c;
    d.height = h;
    d.width = w;
}

// ---------------------------------------------------------------------------------------------
// Validation split
// ---------------------------------------------------------------------------------------------

// Keeps the images at `keep` (ascending) in place, dropping the rest.
void compact(Dataset& d, const std::vector<size_t>& keep) {
    const size_t sz = image_bytes(d);
    for (size_t k = 0; k < keep.size(); ++k) {
        // keep[k] >= k, so moving forward never overwrites an image still to be moved.
        if (keep[k] != k) {
            std::memmove(d.pixels.data() + k * sz, d.pixels.data() + keep[k] * sz, sz);
            d.labels[k] = d.labels[keep[k]];
        }
    }
    d.pixels.resize(keep.size() * sz);
    d.labels.resize(keep.size());
    d.pixels.shrink_to_fit();
    d.labels.shrink_to_fit();
}

// A seeded permutation of the training images; its last `fraction` becomes the test set. Both
// parts keep their original relative order, so the dataset stays grouped as it was on disk.
void split_validation(DataSplit& s, double fraction, uint64_t seed) {
    Dataset& train = s.train;
    const size_t n = train.size();
    if (n < 2)
        throw ConfigError("cannot hold out a validation split from " + std::to_string(n) +
                          " training image(s)");
    size_t n_test = static_cast<size_t>(std::llround(double(n) * fraction));
    n_test = std::clamp<size_t>(n_test, 1, n - 1);

    std::vector<size_t> perm(n);
    std::iota(perm.begin(), perm.end(), size_t{0});
    std::mt19937_64 rng(data_detail::splitmix64(seed ^ 0x76616c5f73706c74ull));  // "val_splt"
    data_detail::shuffle(perm.data(), n, rng);
    std::vector<size_t> test_idx(perm.end() - n_test, perm.end());
    std::vector<size_t> train_idx(perm.begin(), perm.end() - n_test);
    std::sort(test_idx.begin(), test_idx.end());
    std::sort(train_idx.begin(), train_idx.end());

    Dataset test;
    test.channels = train.channels;
    test.height = train.height;
    test.width = train.width;
    test.classes = train.classes;
    const size_t sz = image_bytes(train);
    test.pixels.resize(n_test * sz);
    test.labels.resize(n_test);
    for (size_t k = 0; k < n_test; ++k) {
        std::memcpy(test.pixels.data() + k * sz, train.image(test_idx[k]), sz);
        test.labels[k] = train.labels[test_idx[k]];
    }
    compact(train, train_idx);
    s.test = std::move(test);
}

void require_val_split(const LoadOptions& opts, const std::string& what) {
    if (opts.val_split <= 0.0)
        throw ConfigError(what + " has no test split; pass --val-split FRACTION (e.g. 0.1) to hold out part of "
                                 "the training images as test");
}

// Applies the common tail of the binary formats: conversion to the requested channels and size, and
// the validation split where the data has no test set of its own.
void finish_binary(DataSplit& s, bool has_test, const LoadOptions& opts, const std::string& what) {
    if (s.train.size() == 0) throw ConfigError(what + " contains no training images");
    conform(s.train, opts.channels, opts.height, opts.width);
    if (has_test) {
        conform(s.test, opts.channels, opts.height, opts.width);
        if (opts.val_split > 0.0) warn(opts, what + " has its own test split; --val-split is ignored");
    } else {
        split_validation(s, opts.val_split, opts.seed);
    }
}

// ---------------------------------------------------------------------------------------------
// CIFAR
// ---------------------------------------------------------------------------------------------

std::vector<uint8_t> read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw IoError("cannot open '" + p.string() + "'");
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    if (size < 0) throw IoError("cannot read '" + p.string() + "' (not a regular file?)");
    f.seekg(0, std::ios::beg);
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
        throw IoError("cannot read '" + p.string() + "'");
    return bytes;
}

// One label name per non-empty line (trailing spaces and CRs removed); empty if the file is absent.
std::vector<std::string> read_names(const fs::path& p) {
    std::vector<std::string> names;
    if (!is_file(p)) return names;
    std::ifstream f(p);
    std::string line;
    while (std::getline(f, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        size_t start = 0;
        while (start < line.size() && std::isspace(static_cast<unsigned char>(line[start]))) ++start;
        if (start < line.size()) names.push_back(line.substr(start));
    }
    return names;
}

// Class names from the first of `files` (in the dataset folder) holding exactly `count` names.
std::vector<std::string> class_names(const fs::path& dir, const std::vector<std::string>& files, size_t count,
                                     std::vector<std::string> fallback, const LoadOptions& opts) {
    for (const auto& name : files) {
        const fs::path p = dir / name;
        if (!is_file(p)) continue;
        auto names = read_names(p);
        if (names.size() == count) return names;
        warn(opts, "'" + p.string() + "' lists " + std::to_string(names.size()) + " class names, expected " +
                       std::to_string(count) + "; ignoring it");
    }
    return fallback;
}

// Appends the records of one CIFAR binary file. A record is `label_bytes` label bytes (CIFAR-10: the
// label; CIFAR-100: coarse then fine) followed by a 32x32 image stored planar, all of R, then G,
// then B, each plane row-major; we interleave them into HWC.
void append_cifar(const fs::path& file, int label_bytes, int label_index, Dataset& d) {
    const std::vector<uint8_t> bytes = read_file(file);
    const size_t record = size_t(label_bytes) + kCifarPixels;
    if (bytes.size() % record != 0)
        throw FormatError("CIFAR file '" + file.string() + "' is " + std::to_string(bytes.size()) +
                          " bytes long, which is not a multiple of the record size " + std::to_string(record) +
                          " (" + std::to_string(label_bytes) + " label byte(s) + 3072 pixel bytes)");
    const size_t n = bytes.size() / record;
    const size_t base = d.size();
    const int num_classes = static_cast<int>(d.classes.size());
    d.labels.resize(base + n);
    d.pixels.resize((base + n) * kCifarPixels);
    for (size_t r = 0; r < n; ++r) {
        const uint8_t* rec = bytes.data() + r * record;
        const int label = rec[label_index];
        if (label >= num_classes)
            throw FormatError("CIFAR file '" + file.string() + "': record " + std::to_string(r) + " has label " +
                              std::to_string(label) + ", outside [0, " + std::to_string(num_classes) + ")");
        d.labels[base + r] = label;
        const uint8_t* planes = rec + label_bytes;
        uint8_t* out = d.pixels.data() + (base + r) * kCifarPixels;
        for (int i = 0; i < kCifarPlane; ++i) {
            out[3 * i] = planes[i];
            out[3 * i + 1] = planes[kCifarPlane + i];
            out[3 * i + 2] = planes[2 * kCifarPlane + i];
        }
    }
}

Dataset empty_like(int channels, int height, int width, std::vector<std::string> classes) {
    Dataset d;
    d.channels = channels;
    d.height = height;
    d.width = width;
    d.classes = std::move(classes);
    return d;
}

DataSplit load_cifar10(const fs::path& dir, const LoadOptions& opts) {
    const std::string what = "CIFAR-10 folder '" + dir.string() + "'";
    const bool has_test = is_file(dir / "test_batch.bin");
    if (!has_test) require_val_split(opts, what + " (no test_batch.bin)");
    auto classes = class_names(dir, {"batches.meta.txt"}, 10, kCifar10Names, opts);
    DataSplit s;
    s.train = empty_like(3, kCifarSide, kCifarSide, classes);
    s.test = empty_like(3, kCifarSide, kCifarSide, classes);
    // data_batch_1.bin, _2, ... as far as they go (the release has five).
    for (int i = 1; is_file(dir / ("data_batch_" + std::to_string(i) + ".bin")); ++i)
        append_cifar(dir / ("data_batch_" + std::to_string(i) + ".bin"), 1, 0, s.train);
    if (has_test) append_cifar(dir / "test_batch.bin", 1, 0, s.test);
    finish_binary(s, has_test, opts, what);
    return s;
}

DataSplit load_cifar100(const fs::path& dir, const LoadOptions& opts) {
    const std::string what = "CIFAR-100 folder '" + dir.string() + "'";
    const bool has_test = is_file(dir / "test.bin");
    if (!has_test) require_val_split(opts, what + " (no test.bin)");
    const bool coarse = opts.cifar100_coarse;
    const int n_classes = coarse ? 20 : 100;
    auto classes = class_names(dir, {coarse ? "coarse_label_names.txt" : "fine_label_names.txt", "batches.meta.txt"},
                               n_classes, index_names(n_classes), opts);
    DataSplit s;
    s.train = empty_like(3, kCifarSide, kCifarSide, classes);
    s.test = empty_like(3, kCifarSide, kCifarSide, classes);
    // Byte 0 is the coarse (superclass) label, byte 1 the fine one.
    const int label_index = coarse ? 0 : 1;
    append_cifar(dir / "train.bin", 2, label_index, s.train);
    if (has_test) append_cifar(dir / "test.bin", 2, label_index, s.test);
    finish_binary(s, has_test, opts, what);
    return s;
}

// ---------------------------------------------------------------------------------------------
// IDX (MNIST, Fashion-MNIST)
// ---------------------------------------------------------------------------------------------

// The whole (decompressed) content of a file. zlib's gzread passes files without a gzip header
// through unchanged, so plain and .gz files take the same path.
std::vector<uint8_t> read_maybe_gz(const fs::path& p) {
    gzFile f = gzopen(p.string().c_str(), "rb");
    if (!f) throw IoError("cannot open '" + p.string() + "'");
    gzbuffer(f, 1 << 17);
    std::vector<uint8_t> out;
    constexpr unsigned kChunk = 1u << 20;
    for (;;) {
        const size_t old = out.size();
        out.resize(old + kChunk);
        const int got = gzread(f, out.data() + old, kChunk);
        if (got < 0) {
            int errnum = 0;
            const std::string msg = gzerror(f, &errnum);
            gzclose(f);
            if (errnum == Z_ERRNO) throw IoError("cannot read '" + p.string() + "'");
            throw FormatError("cannot decompress '" + p.string() + "': " + msg);
        }
        out.resize(old + static_cast<size_t>(got));
        if (got == 0) break;
    }
    // A gzip stream cut short reads as a clean end of file; gzerror tells it apart.
    int errnum = 0;
    const std::string msg = gzerror(f, &errnum);
    gzclose(f);
    if (errnum != Z_OK && errnum != Z_STREAM_END)
        throw FormatError("cannot decompress '" + p.string() + "': " + msg);
    return out;
}

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

// The file for `split` ("train"/"t10k") and `kind` ("images"/"labels"), under the names the
// datasets are distributed with (LeCun's dashes, Kaggle's dot), plain or gzipped; empty if none.
fs::path find_idx(const fs::path& dir, const std::string& split, const std::string& kind) {
    const std::string dims = kind == "images" ? "idx3" : "idx1";
    for (const std::string& base : {split + "-" + kind + "-" + dims + "-ubyte", split + "-" + kind + "." + dims + "-ubyte"})
        for (const char* ext : {"", ".gz"})
            if (is_file(dir / (base + ext))) return dir / (base + ext);
    return {};
}

Dataset read_idx_pair(const fs::path& images_path, const fs::path& labels_path, std::vector<std::string> classes) {
    const std::vector<uint8_t> img = read_maybe_gz(images_path);
    const std::vector<uint8_t> lab = read_maybe_gz(labels_path);
    if (img.size() < 4 || be32(img.data()) != kIdxImagesMagic)
        throw FormatError("IDX images file '" + images_path.string() + "' has magic " +
                          (img.size() < 4 ? std::string("(file too short)") : hex32(be32(img.data()))) +
                          ", expected " + hex32(kIdxImagesMagic));
    if (lab.size() < 4 || be32(lab.data()) != kIdxLabelsMagic)
        throw FormatError("IDX labels file '" + labels_path.string() + "' has magic " +
                          (lab.size() < 4 ? std::string("(file too short)") : hex32(be32(lab.data()))) +
                          ", expected " + hex32(kIdxLabelsMagic));
    if (img.size() < 16) throw FormatError("IDX images file '" + images_path.string() + "' is truncated in its header");
    if (lab.size() < 8) throw FormatError("IDX labels file '" + labels_path.string() + "' is truncated in its header");
    const size_t n = be32(img.data() + 4), rows = be32(img.data() + 8), cols = be32(img.data() + 12);
    const size_t n_labels = be32(lab.data() + 4);
    if (n != n_labels)
        throw FormatError("IDX files disagree: '" + images_path.string() + "' holds " + std::to_string(n) +
                          " images but '" + labels_path.string() + "' holds " + std::to_string(n_labels) + " labels");
    if (rows == 0 || cols == 0 || rows > 65536 || cols > 65536)
        throw FormatError("IDX images file '" + images_path.string() + "' has an implausible image size " +
                          std::to_string(rows) + "x" + std::to_string(cols));
    // Compared by division: a corrupt header's n * rows * cols could overflow.
    const size_t per_image = rows * cols;
    if ((img.size() - 16) % per_image != 0 || (img.size() - 16) / per_image != n)
        throw FormatError("IDX images file '" + images_path.string() + "' holds " + std::to_string(img.size()) +
                          " bytes, which does not match its header: " + std::to_string(n) + " images of " +
                          std::to_string(rows) + "x" + std::to_string(cols) + " need 16 + " + std::to_string(n) +
                          " * " + std::to_string(per_image) + " bytes");
    const size_t need_lab = 8 + n;
    if (lab.size() != need_lab)
        throw FormatError("IDX labels file '" + labels_path.string() + "' holds " + std::to_string(lab.size()) +
                          " bytes, expected " + std::to_string(need_lab) + " for " + std::to_string(n) + " labels");

    Dataset d = empty_like(1, static_cast<int>(rows), static_cast<int>(cols), std::move(classes));
    d.pixels.assign(img.begin() + 16, img.end());
    d.labels.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const int label = lab[8 + i];
        if (label >= static_cast<int>(d.classes.size()))
            throw FormatError("IDX labels file '" + labels_path.string() + "': label " + std::to_string(i) + " is " +
                              std::to_string(label) + ", outside [0, " + std::to_string(d.classes.size()) + ")");
        d.labels[i] = label;
    }
    return d;
}

DataSplit load_idx(const fs::path& dir, const std::string& given_path, const LoadOptions& opts) {
    const std::string what = "IDX folder '" + dir.string() + "'";
    std::error_code ec;
    const fs::path canon = fs::weakly_canonical(dir, ec);
    const bool fashion = lower(given_path).find("fashion") != std::string::npos ||
                         lower(canon.string()).find("fashion") != std::string::npos;
    const auto classes = fashion ? kFashionNames : index_names(10);

    const fs::path train_images = find_idx(dir, "train", "images"), train_labels = find_idx(dir, "train", "labels");
    const fs::path test_images = find_idx(dir, "t10k", "images"), test_labels = find_idx(dir, "t10k", "labels");
    if (train_labels.empty())
        throw IoError(what + " has " + train_images.filename().string() +
                      " but no train-labels-idx1-ubyte[.gz] beside it");
    if (test_images.empty() != test_labels.empty())
        throw IoError(what + " has only one of t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]");
    const bool has_test = !test_images.empty();
    if (!has_test) require_val_split(opts, what + " (no t10k-* files)");

    DataSplit s;
    s.train = read_idx_pair(train_images, train_labels, classes);
    s.test = has_test ? read_idx_pair(test_images, test_labels, classes)
                      : empty_like(1, s.train.height, s.train.width, classes);
    if (has_test && (s.test.height != s.train.height || s.test.width != s.train.width))
        conform(s.test, 0, s.train.height, s.train.width);
    finish_binary(s, has_test, opts, what);
    return s;
}

// ---------------------------------------------------------------------------------------------
// Image folders
// ---------------------------------------------------------------------------------------------

bool has_image_extension(const fs::path& p) {
    static const std::set<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp", ".ppm",
                                               ".pgm", ".tif",  ".tiff", ".webp"};
    return exts.count(lower(p.extension().string())) > 0;
}

// Sub-folder names, sorted bytewise (as Python's sorted() on str for ASCII names, which is what
// torchvision's ImageFolder uses, so class indices agree with it). Hidden folders (".git",
// ".ipynb_checkpoints") are not classes.
std::vector<std::string> list_class_dirs(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] != '.' && is_dir(it->path())) names.push_back(name);
    }
    if (ec) throw IoError("cannot list folder '" + dir.string() + "': " + ec.message());
    std::sort(names.begin(), names.end());
    return names;
}

// The image files directly inside a class folder (not recursive), sorted.
std::vector<std::string> list_images(const fs::path& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        const std::string name = p.filename().string();
        if (!name.empty() && name[0] != '.' && has_image_extension(p) && is_file(p)) files.push_back(p.string());
    }
    if (ec) throw IoError("cannot list folder '" + dir.string() + "': " + ec.message());
    std::sort(files.begin(), files.end());
    return files;
}

struct ImageJob {
    std::string path;
    int label;
};

void add_class_images(const fs::path& split_dir, const std::vector<std::string>& classes, std::vector<ImageJob>& jobs) {
    for (size_t c = 0; c < classes.size(); ++c) {
        const fs::path dir = split_dir / classes[c];
        const auto files = list_images(dir);
        if (files.empty())
            throw ConfigError("class folder '" + dir.string() +
                              "' has no images (looked for .jpg .jpeg .png .bmp .ppm .pgm .tif .tiff .webp "
                              "directly inside it)");
        for (const auto& f : files) jobs.push_back({f, static_cast<int>(c)});
    }
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
}

// The channels and size of the first training image that decodes (for whichever of them the
// options leave at 0). The data's own channel count is its decoded count before any conversion:
// gray (with or without alpha) is 1, anything else 3.
void probe_first(const std::vector<ImageJob>& jobs, size_t n_train, int& channels, int& height, int& width) {
    for (size_t i = 0; i < n_train; ++i) {
        try {
            const std::vector<uint8_t> bytes = read_file(jobs[i].path);
            if (bytes.empty()) continue;
            cv::Mat raw = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
            if (raw.empty()) continue;
            if (!channels) channels = raw.channels() <= 2 ? 1 : 3;
            if (!height) height = raw.rows;
            if (!width) width = raw.cols;
            return;
        } catch (const Error&) {
        } catch (const cv::Exception&) {
        }
    }
    throw ConfigError("none of the " + std::to_string(n_train) + " training images could be decoded");
}

struct Issue {
    size_t index;
    std::string message;
};

// Emits the first few issues one by one, then one line with the total, so that a folder of
// thousands of odd images does not drown the log.
void report(const LoadOptions& opts, std::vector<Issue>& issues, const std::string& total_line) {
    if (!opts.warn || issues.empty()) return;
    std::sort(issues.begin(), issues.end(), [](const Issue& a, const Issue& b) { return a.index < b.index; });
    for (size_t i = 0; i < issues.size() && i < kMaxIndividualWarnings; ++i) opts.warn(issues[i].message);
    if (issues.size() > kMaxIndividualWarnings) opts.warn(total_line);
}

DataSplit load_image_folder(const fs::path& root, const LoadOptions& opts) {
    fs::path train_dir = root, test_dir;
    if (is_dir(root / "train")) {
        train_dir = root / "train";
        if (is_dir(root / "test")) test_dir = root / "test";
    }
    const auto classes = list_class_dirs(train_dir);
    if (classes.empty()) throw ConfigError("no class folders in " + train_dir.string());
    const bool has_test = !test_dir.empty();
    if (!has_test)
        require_val_split(opts, train_dir == root ? "image folder '" + root.string() +
                                                        "' (no train/ and test/ sub-folders)"
                                                  : "image folder '" + root.string() + "' (no test/ sub-folder)");
    if (has_test) {
        const auto test_classes = list_class_dirs(test_dir);
        if (test_classes != classes) {
            std::vector<std::string> missing, extra;
            std::set_difference(classes.begin(), classes.end(), test_classes.begin(), test_classes.end(),
                                std::back_inserter(missing));
            std::set_difference(test_classes.begin(), test_classes.end(), classes.begin(), classes.end(),
                                std::back_inserter(extra));
            std::string msg = "class folders of '" + test_dir.string() + "' differ from those of '" +
                              train_dir.string() + "'";
            if (!missing.empty()) msg += "; missing in test: " + join(missing);
            if (!extra.empty()) msg += "; only in test: " + join(extra);
            throw ConfigError(msg);
        }
    }

    std::vector<ImageJob> jobs;
    add_class_images(train_dir, classes, jobs);
    const size_t n_train = jobs.size();
    if (has_test) add_class_images(test_dir, classes, jobs);
    const size_t n = jobs.size();

    int channels = opts.channels, height = opts.height, width = opts.width;
    if (!channels || !height || !width) probe_first(jobs, n_train, channels, height, width);

    DataSplit s;
    s.train = empty_like(channels, height, width, classes);
    s.test = empty_like(channels, height, width, classes);
    const size_t sz = size_t(height) * width * channels;
    s.train.pixels.resize(n_train * sz);
    s.test.pixels.resize((n - n_train) * sz);

    // The decoding pool: workers take the next image index from a shared counter, decode it into its
    // own slot (so no two threads write the same bytes and the result is independent of timing) and
    // note problems; the calling thread reports progress, then warnings in file order, so the
    // callbacks never run concurrently.
    std::vector<uint8_t> ok(n, 0);  // bytes, not vector<bool>: each worker writes its own element
    std::vector<Issue> corrupt, resized;
    std::mutex mu;
    std::condition_variable cv_done;
    std::atomic<size_t> next{0}, done{0};
    std::exception_ptr fatal;
    int running = 0;

    auto work = [&] {
        for (;;) {
            const size_t i = next.fetch_add(1);
            if (i >= n) break;
            const ImageJob& job = jobs[i];
            uint8_t* dst = i < n_train ? s.train.pixels.data() + i * sz : s.test.pixels.data() + (i - n_train) * sz;
            try {
                cv::Mat m = load_image(job.path, channels);
                if (m.rows != height || m.cols != width) {
                    const std::string msg = "resized '" + job.path + "' from " + std::to_string(m.cols) + "x" +
                                            std::to_string(m.rows) + " to " + std::to_string(width) + "x" +
                                            std::to_string(height);
                    m = resize_to(m, height, width);
                    std::lock_guard<std::mutex> lk(mu);
                    resized.push_back({i, msg});
                }
                copy_into(m, dst);
                ok[i] = 1;
            } catch (const Error& e) {
                std::lock_guard<std::mutex> lk(mu);
                corrupt.push_back({i, "skipped image '" + job.path + "': " + e.what()});
            } catch (const cv::Exception& e) {
                std::lock_guard<std::mutex> lk(mu);
                corrupt.push_back({i, "skipped image '" + job.path + "': " + e.what()});
            } catch (...) {
                std::lock_guard<std::mutex> lk(mu);
                if (!fatal) fatal = std::current_exception();
                next.store(n);  // stop the other workers early
            }
            done.fetch_add(1);
        }
        std::lock_guard<std::mutex> lk(mu);
        --running;
        cv_done.notify_all();
    };

    size_t n_threads = opts.threads > 0 ? size_t(opts.threads) : std::max(1u, std::thread::hardware_concurrency());
    n_threads = std::max<size_t>(1, std::min(n_threads, n));
    std::vector<std::thread> pool;
    running = static_cast<int>(n_threads);
    for (size_t t = 0; t < n_threads; ++t) pool.emplace_back(work);
    {
        std::unique_lock<std::mutex> lk(mu);
        while (running > 0) {
            cv_done.wait_for(lk, std::chrono::milliseconds(100));
            if (opts.progress && running > 0) {
                const size_t d = done.load();
                lk.unlock();
                opts.progress(d, n);
                lk.lock();
            }
        }
    }
    for (auto& t : pool) t.join();
    if (fatal) std::rethrow_exception(fatal);
    if (opts.progress) opts.progress(n, n);

    report(opts, corrupt,
           std::to_string(corrupt.size()) + " images in total could not be decoded and were skipped");
    report(opts, resized,
           std::to_string(resized.size()) + " images in total had a size other than " + std::to_string(width) + "x" +
               std::to_string(height) + " and were resized");

    // Labels, then squeeze out the slots of skipped images.
    std::vector<size_t> keep_train, keep_test;
    s.train.labels.resize(n_train);
    s.test.labels.resize(n - n_train);
    for (size_t i = 0; i < n; ++i) {
        if (i < n_train) {
            s.train.labels[i] = jobs[i].label;
            if (ok[i]) keep_train.push_back(i);
        } else {
            s.test.labels[i - n_train] = jobs[i].label;
            if (ok[i]) keep_test.push_back(i - n_train);
        }
    }
    if (keep_train.size() != n_train) compact(s.train, keep_train);
    if (keep_test.size() != n - n_train) compact(s.test, keep_test);
    if (s.train.size() == 0) throw ConfigError("no training image in '" + train_dir.string() + "' could be decoded");

    if (!has_test) split_validation(s, opts.val_split, opts.seed);
    else if (opts.val_split > 0.0)
        warn(opts, "image folder '" + root.string() + "' has its own test split; --val-split is ignored");
    return s;
}

}  // namespace

DataSplit load_dataset(const std::string& path, const LoadOptions& opts) {
    if (opts.channels != 0 && opts.channels != 1 && opts.channels != 3)
        throw ConfigError("channels must be 0 (the data's own), 1 or 3, got " + std::to_string(opts.channels));
    if (opts.height < 0 || opts.width < 0)
        throw ConfigError("image size must be positive (or 0 for the data's own), got " +
                          std::to_string(opts.width) + "x" + std::to_string(opts.height));
    if (!(opts.val_split >= 0.0 && opts.val_split < 1.0))
        throw ConfigError("--val-split must be in [0, 1), got " + std::to_string(opts.val_split));
    if (opts.threads < 0) throw ConfigError("threads must be >= 0, got " + std::to_string(opts.threads));

    const fs::path root(path);
    std::error_code ec;
    if (path.empty() || !fs::exists(root, ec)) throw IoError("dataset path '" + path + "' does not exist");
    if (!is_dir(root)) throw IoError("dataset path '" + path + "' is not a folder");

    if (is_file(root / "data_batch_1.bin")) return load_cifar10(root, opts);
    if (is_file(root / "cifar-10-batches-bin" / "data_batch_1.bin"))
        return load_cifar10(root / "cifar-10-batches-bin", opts);
    if (is_file(root / "train.bin")) return load_cifar100(root, opts);
    if (is_file(root / "cifar-100-binary" / "train.bin")) return load_cifar100(root / "cifar-100-binary", opts);
    if (!find_idx(root, "train", "images").empty()) return load_idx(root, path, opts);
    return load_image_folder(root, opts);
}

}  // namespace vit
