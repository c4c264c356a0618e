// Private to the dataset readers: CIFAR-10 and CIFAR-100 in their binary releases.
#pragma once
#include <filesystem>

#include "vit/data/dataset.hpp"

namespace vit::data_detail {

// dir holds data_batch_{1..5}.bin and, unless opts.val_split holds some out, test_batch.bin.
DataSplit load_cifar10(const std::filesystem::path& dir, const LoadOptions& opts);
// dir holds train.bin and, unless opts.val_split holds some out, test.bin; opts.cifar100_coarse picks
// the 20 superclasses instead of the 100 classes.
DataSplit load_cifar100(const std::filesystem::path& dir, const LoadOptions& opts);

}  // namespace vit::data_detail
