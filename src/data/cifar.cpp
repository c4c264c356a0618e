// CIFAR-10 and CIFAR-100 binary files: fixed-size records of label byte(s) and a planar 32x32 RGB
// image, with class names from the release's text files where present.
#include "data/cifar.hpp"

#include <cctype>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset_ops.hpp"
#include "vit/util/error.hpp"

namespace fs = std::filesystem;

namespace vit::data_detail {
namespace {

constexpr int kCifarSide = 32;
constexpr int kCifarPlane = kCifarSide * kCifarSide;  // one colour plane of a record
constexpr int kCifarPixels = 3 * kCifarPlane;

const std::vector<std::string> kCifar10Names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

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

}  // namespace

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

}  // namespace vit::data_detail
