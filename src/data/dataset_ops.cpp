// What every dataset reader shares: file tests and reading, channel and size conversion, and the
// validation split.
#include "data/dataset_ops.hpp"

#include "data/image_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "data/random.hpp"
#include "vit/util/error.hpp"
#include "image/pixels.hpp"

namespace fs = std::filesystem;

namespace vit::data_detail {
namespace {

size_t image_bytes(const Dataset& d) { return size_t(d.height) * d.width * d.channels; }

cv::Mat rgb_to_gray(const cv::Mat& rgb) {
    cv::Mat out(rgb.rows, rgb.cols, CV_8UC1);
    for (int y = 0; y < rgb.rows; ++y) {
        const uint8_t* s = rgb.ptr<uint8_t>(y);
        uint8_t* d = out.ptr<uint8_t>(y);
        for (int x = 0; x < rgb.cols; ++x) d[x] = pil_luma(s[3 * x], s[3 * x + 1], s[3 * x + 2]);
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

}  // namespace

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

std::vector<std::string> index_names(int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back(std::to_string(i));
    return v;
}

Dataset empty_like(int channels, int height, int width, std::vector<std::string> classes) {
    Dataset d;
    d.channels = channels;
    d.height = height;
    d.width = width;
    d.classes = std::move(classes);
    return d;
}

// Area averaging when shrinking (each output pixel is the mean of the input pixels it covers, so no
// aliasing); bilinear when enlarging or mixed, where area averaging degenerates to nearest-neighbour
// blocks.
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

void compact(Dataset& d, const std::vector<size_t>& keep) {
    // A streamed dataset has no pixels to move, only its files.
    const size_t sz = d.pixels.empty() ? 0 : image_bytes(d);
    const bool files = !d.files.empty();
    for (size_t k = 0; k < keep.size(); ++k) {
        // keep[k] >= k, so moving forward never overwrites an image still to be moved.
        if (keep[k] != k) {
            if (sz) std::memmove(d.pixels.data() + k * sz, d.pixels.data() + keep[k] * sz, sz);
            d.labels[k] = d.labels[keep[k]];
            if (files) d.files[k] = std::move(d.files[keep[k]]);
        }
    }
    d.pixels.resize(keep.size() * sz);
    d.labels.resize(keep.size());
    if (files) d.files.resize(keep.size());
    d.pixels.shrink_to_fit();
    d.labels.shrink_to_fit();
    d.files.shrink_to_fit();
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
    std::mt19937_64 rng(splitmix64(seed ^ 0x76616c5f73706c74ull));  // "val_splt"
    shuffle(perm.data(), n, rng);
    std::vector<size_t> test_idx(perm.end() - n_test, perm.end());
    std::vector<size_t> train_idx(perm.begin(), perm.end() - n_test);
    std::sort(test_idx.begin(), test_idx.end());
    std::sort(train_idx.begin(), train_idx.end());

    Dataset test = empty_like(train.channels, train.height, train.width, train.classes);
    test.eval_transform = train.eval_transform;
    test.image_limits = train.image_limits;
    const size_t sz = train.pixels.empty() ? 0 : image_bytes(train);
    test.pixels.resize(n_test * sz);
    test.labels.resize(n_test);
    for (size_t k = 0; k < n_test; ++k) {
        if (sz) std::memcpy(test.pixels.data() + k * sz, train.image(test_idx[k]), sz);
        test.labels[k] = train.labels[test_idx[k]];
        if (!train.files.empty()) test.files.push_back(train.files[test_idx[k]]);
    }
    compact(train, train_idx);
    s.test = std::move(test);
}

void require_val_split(const LoadOptions& opts, const std::string& what) {
    if (opts.val_split <= 0.0)
        throw ConfigError(what + " has no test split and val_split is 0; set val_split to a fraction (e.g. 0.1) "
                                 "to hold out part of the training images as test");
}

void split_or_warn(DataSplit& s, bool has_test, const LoadOptions& opts, const std::string& what) {
    if (!has_test) split_validation(s, opts.val_split, opts.seed);
    else if (opts.val_split > 0.0) warn(opts, what + " has its own test split; val_split is ignored");
}

void finish_binary(DataSplit& s, bool has_test, const LoadOptions& opts, const std::string& what) {
    if (s.train.size() == 0) throw ConfigError(what + " contains no training images");
    conform(s.train, opts.channels, opts.height, opts.width);
    if (has_test) conform(s.test, opts.channels, opts.height, opts.width);
    split_or_warn(s, has_test, opts, what);
}

}  // namespace vit::data_detail
