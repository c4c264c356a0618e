// load_dataset: the options checked, the format told from the files present, and the matching reader
// under src/data/ called. The batch loader lives in src/data/batch_loader.cpp.
#include "vit/data/dataset.hpp"

#include <filesystem>

#include "data/cifar.hpp"
#include "data/dataset_ops.hpp"
#include "data/idx.hpp"
#include "data/image_folder.hpp"
#include "vit/util/error.hpp"

namespace fs = std::filesystem;

namespace vit {

const char* to_string(PadFill f) { return f == PadFill::Mean ? "mean" : "black"; }

PadFill parse_pad_fill(const std::string& s) {
    if (s == "mean") return PadFill::Mean;
    if (s == "black") return PadFill::Black;
    throw ConfigError("unknown pad fill '" + s + "' (expected mean or black)");
}
const char* to_string(Cache c) {
    switch (c) {
        case Cache::Auto: return "auto";
        case Cache::None: return "none";
        case Cache::Decoded: break;
    }
    return "decoded";
}

Cache parse_cache(const std::string& s) {
    for (Cache c : {Cache::Auto, Cache::None, Cache::Decoded})
        if (s == to_string(c)) return c;
    throw ConfigError("unknown cache mode '" + s + "' (expected auto, none or decoded)");
}

namespace {

// A format and the folder that holds its files (the release's own sub-folder for CIFAR archives
// unpacked as they come).
struct Located {
    DatasetFormat format;
    fs::path dir;
};

Located locate(const std::string& path) {
    using data_detail::is_dir;
    using data_detail::is_file;
    const fs::path root(path);
    std::error_code ec;
    if (path.empty() || !fs::exists(root, ec)) throw IoError("dataset path '" + path + "' does not exist");
    if (!is_dir(root)) throw IoError("dataset path '" + path + "' is not a folder");
    if (is_file(root / "data_batch_1.bin")) return {DatasetFormat::Cifar10, root};
    if (is_file(root / "cifar-10-batches-bin" / "data_batch_1.bin"))
        return {DatasetFormat::Cifar10, root / "cifar-10-batches-bin"};
    if (is_file(root / "train.bin")) return {DatasetFormat::Cifar100, root};
    if (is_file(root / "cifar-100-binary" / "train.bin")) return {DatasetFormat::Cifar100, root / "cifar-100-binary"};
    if (!data_detail::find_idx(root, "train", "images").empty()) return {DatasetFormat::Idx, root};
    return {DatasetFormat::ImageFolder, root};
}

}  // namespace

void LoadOptions::validate() const {
    if (channels != 0 && channels != 1 && channels != 3)
        throw ConfigError("channels must be 0 (the data's own), 1 or 3, got " + std::to_string(channels));
    if (height < 0 || width < 0)
        throw ConfigError("image size must be positive (or 0 for the data's own), got " + std::to_string(width) +
                          "x" + std::to_string(height));
    if (!(val_split >= 0.0 && val_split < 1.0))
        throw ConfigError("val_split must be in [0, 1), got " + std::to_string(val_split));
    if (threads < 0) throw ConfigError("threads must be >= 0, got " + std::to_string(threads));
    if (!(cache_share > 0.0 && cache_share <= 1.0))
        throw ConfigError("cache_share must be in (0, 1], got " + std::to_string(cache_share));
    if (eval_transform) {
        eval_transform->validate();
        if ((channels && channels != eval_transform->channels) || (height && height != eval_transform->height) ||
            (width && width != eval_transform->width))
            throw ConfigError("the evaluation transform makes " + std::to_string(eval_transform->channels) + "x" +
                              std::to_string(eval_transform->height) + "x" + std::to_string(eval_transform->width) +
                              " images, the options ask for " + std::to_string(channels) + "x" +
                              std::to_string(height) + "x" + std::to_string(width));
    }
    image_limits.validate();
}

DatasetFormat detect_dataset_format(const std::string& path) { return locate(path).format; }

DataSplit load_dataset(const std::string& path, const LoadOptions& opts) {
    opts.validate();
    const Located found = locate(path);
    if (!opts.classes.empty() && found.format != DatasetFormat::ImageFolder)
        throw ConfigError("a class subset selects class folders, and '" + path + "' holds CIFAR or IDX files");
    switch (found.format) {
        case DatasetFormat::Cifar10: return data_detail::load_cifar10(found.dir, opts);
        case DatasetFormat::Cifar100: return data_detail::load_cifar100(found.dir, opts);
        case DatasetFormat::Idx: return data_detail::load_idx(found.dir, path, opts);
        case DatasetFormat::ImageFolder: break;
    }
    return data_detail::load_image_folder(found.dir, opts);
}

}  // namespace vit
