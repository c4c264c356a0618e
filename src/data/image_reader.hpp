// Private to the data sources: how one image file of a folder dataset becomes the 8-bit (H, W, C) image
// that the loader augments. The image-folder reader uses it to fill its cache and the batch loader to
// stream, so a cached and a streamed run see the same pixels.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "vit/data/augment/resized_crop.hpp"
#include "vit/data/dataset.hpp"
#include "vit/image/preprocess.hpp"

namespace vit::data_detail {

// Area averaging when shrinking, bilinear otherwise: the stretch of images of another size into a
// dataset's fixed size (OpenCV's resize; PIL-exactness matters less here than for a model's input).
cv::Mat resize_to(const cv::Mat& m, int height, int width);

// An 8-bit decoded image brought to (height, width): stretched (resize_to) without an evaluation
// transform, else resized and centre-cropped as the model's preprocessing does.
cv::Mat fit_image(const cv::Mat& m, int height, int width, const std::optional<PreprocessConfig>& eval_transform);

// Image i of a streamed dataset: d.files[i] decoded (d.image_limits checked) and fitted to (d.height,
// d.width) as d.eval_transform says, into dst as (height, width, channels) bytes. Throws IoError or
// ImageError when the file cannot be read or decoded.
void read_fitted(const Dataset& d, size_t i, uint8_t* dst);

// The box of `src` resized to (height, width) with PIL's filter (torchvision's F.resized_crop), into dst
// as (height, width, channels) bytes.
void resized_crop_into(const cv::Mat& src, const CropBox& box, int height, int width, uint8_t* dst);

// Copies an 8-bit image row by row into dst, (H, W, C) contiguous.
void copy_into(const cv::Mat& m, uint8_t* dst);

}  // namespace vit::data_detail
