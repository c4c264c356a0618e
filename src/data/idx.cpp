// IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (magic, then one 32-bit size
// per dimension) followed by unsigned bytes, images (N, rows, cols) in one file and labels (N) in another.
#include "data/idx.hpp"

#include <zlib.h>

#include <cctype>
#include <cstdio>
#include <vector>

#include "data/dataset_ops.hpp"
#include "vit/util/error.hpp"

namespace fs = std::filesystem;

namespace vit::data_detail {
namespace {

constexpr uint32_t kIdxImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

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

}  // namespace

// The file for `split` ("train"/"t10k") and `kind` ("images"/"labels"), under the names the
// datasets are distributed with (LeCun's dashes, Kaggle's dot), plain or gzipped; empty if none.
fs::path find_idx(const fs::path& dir, const std::string& split, const std::string& kind) {
    const std::string dims = kind == "images" ? "idx3" : "idx1";
    for (const std::string& base : {split + "-" + kind + "-" + dims + "-ubyte", split + "-" + kind + "." + dims + "-ubyte"})
        for (const char* ext : {"", ".gz"})
            if (is_file(dir / (base + ext))) return dir / (base + ext);
    return {};
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

}  // namespace vit::data_detail
