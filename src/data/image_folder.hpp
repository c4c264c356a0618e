// Private to the dataset readers: folders of image files, one sub-folder per class, as torchvision's
// ImageFolder reads them.
#pragma once
#include <filesystem>

#include "vit/data/dataset.hpp"

namespace vit::data_detail {

// root/{train,test}/<class>/<image> or, without test/, root/<class>/<image> with a validation split.
// Images are decoded on opts.threads workers; those that fail are skipped with a warning.
DataSplit load_image_folder(const std::filesystem::path& root, const LoadOptions& opts);

}  // namespace vit::data_detail
