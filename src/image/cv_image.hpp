// The OpenCV side of image/ (cv::Mat in and out), private to the library and its in-tree programs:
// decoding with the header checks of image/header.hpp first, and the PIL-exact resize and
// preprocessing that image/preprocess.hpp's functions run on file paths.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "vit/image/preprocess.hpp"

namespace vit {

// Throws IoError if the file cannot be read, ImageError if it cannot be decoded, ImageTooLargeError
// (before decoding) if its header declares more pixels than limits allow.
cv::Mat load_image(const std::string& path, int channels, const ImageLimits& limits = {});  // CV_8UC1 or CV_8UC3 (RGB order)
cv::Mat decode_image(const std::vector<unsigned char>& bytes, int channels, const std::string& name_for_errors,
                     const ImageLimits& limits = {});

// An 8-bit image with cfg.channels channels resized and cropped to (cfg.height, cfg.width) as
// cfg.resize_mode says: preprocess() before its normalisation.
cv::Mat resize_to_input(const cv::Mat& image, const PreprocessConfig& cfg);

// out must hold cfg.channels * cfg.height * cfg.width floats.
void preprocess(const cv::Mat& image, const PreprocessConfig& cfg, float* out);

// PIL-compatible separable resize of an 8-bit image (CV_8UC1 or CV_8UC3) to (width, height).
cv::Mat resize_like_pil(const cv::Mat& image, int width, int height, Interpolation interp);

}  // namespace vit
