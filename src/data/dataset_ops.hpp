// Private to the dataset readers (src/data/*.cpp): what every reader needs around its own format:
// file tests, the conversion of a dataset to the requested channels and size, the validation split,
// and the common tail of the binary formats.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "vit/data/dataset.hpp"

namespace vit::data_detail {

// Tests that never throw: an unreadable entry is simply not a file or folder.
bool is_file(const std::filesystem::path& p);
bool is_dir(const std::filesystem::path& p);

// Passes msg to the caller's warning callback, if any.
void warn(const LoadOptions& opts, const std::string& msg);

// The whole content of a file. Throws IoError.
std::vector<uint8_t> read_file(const std::filesystem::path& p);

// "0", "1", ..., for datasets that ship no class names.
std::vector<std::string> index_names(int n);

// A dataset of the given shape and classes with no images yet.
Dataset empty_like(int channels, int height, int width, std::vector<std::string> classes);

// Brings every image of d to `channels`, `height` and `width` (0 keeps the dataset's own).
void conform(Dataset& d, int channels, int height, int width);

// Keeps the images at the ascending indices `keep`, in place, dropping the rest.
void compact(Dataset& d, const std::vector<size_t>& keep);

// Moves a seeded `fraction` of s.train into s.test. Throws ConfigError below two training images.
void split_validation(DataSplit& s, double fraction, uint64_t seed);

// Throws ConfigError naming `what` when the data has no test split and opts.val_split is 0.
void require_val_split(const LoadOptions& opts, const std::string& what);

// The end of every reader: a validation split taken from s.train where the data has no test split of
// its own, or a warning that opts.val_split goes unused where it has one.
void split_or_warn(DataSplit& s, bool has_test, const LoadOptions& opts, const std::string& what);

// The end of the binary readers (CIFAR, IDX), whose images come at their own size: ConfigError for
// an empty training set, conversion to the requested channels and size, then split_or_warn.
void finish_binary(DataSplit& s, bool has_test, const LoadOptions& opts, const std::string& what);

}  // namespace vit::data_detail
