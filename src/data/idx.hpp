// Private to the dataset readers: IDX files (MNIST, Fashion-MNIST), plain or gzipped.
#pragma once
#include <filesystem>
#include <string>

#include "vit/data/dataset.hpp"

namespace vit::data_detail {

// The file for `split` ("train"/"t10k") and `kind` ("images"/"labels") in dir, under the names the
// datasets are distributed with, plain or gzipped; empty if there is none.
std::filesystem::path find_idx(const std::filesystem::path& dir, const std::string& split, const std::string& kind);

// dir holds train-{images,labels} and, unless opts.val_split holds some out, t10k-{images,labels}.
// Fashion-MNIST's class names are used when given_path or the folder's name says "fashion".
DataSplit load_idx(const std::filesystem::path& dir, const std::string& given_path, const LoadOptions& opts);

}  // namespace vit::data_detail
