// Image preprocessing with OpenCV, reproducing PIL's results as timm and Hugging Face use them.
//
// load_image: a JPEG, PNG, BMP, TIFF, WebP or Netpbm image (the formats whose size image_header.hpp reads
// and checks before decoding; 8/16-bit, gray, colour, alpha), decoded by OpenCV and converted to the model's
// channel count (1: luminance as PIL's "L" mode, 3: RGB; alpha dropped) as 8-bit, exactly as PIL
// converts before its transforms.
// preprocess: resize and crop as cfg.resize_mode says (timm's crop modes "center", "squash" and
// "border" with scale size floor(size / crop_pct), or Hugging Face's direct resize) with a
// separable resampler that follows PIL (antialiasing filter support scaled by the downscale factor,
// PIL's bicubic a = -0.5 and bilinear kernels, 8-bit rounding between passes), then scale to [0,1] and
// normalise with mean/std. Output is planar (C, H, W) float32.
#pragma once
#include <string>

#include <opencv2/core.hpp>

#include "vit/config.hpp"
#include "vit/image_header.hpp"
#include "vit/tensor.hpp"

namespace vit {

// Throws IoError if the file cannot be read, ImageError if it cannot be decoded, ImageTooLargeError
// (before decoding) if its header declares more pixels than limits allow.
cv::Mat load_image(const std::string& path, int channels, const ImageLimits& limits = {});  // CV_8UC1 or CV_8UC3 (RGB order)
cv::Mat decode_image(const std::vector<unsigned char>& bytes, int channels, const std::string& name_for_errors,
                     const ImageLimits& limits = {});

// out must hold cfg.channels * cfg.height * cfg.width floats.
void preprocess(const cv::Mat& image, const PreprocessConfig& cfg, float* out);
Tensor preprocess_file(const std::string& path, const PreprocessConfig& cfg);  // shape (C, H, W)

// Where the model's input window lies in an image of h x w pixels under cfg: the image is resized to
// `resized`, and the input is the (cfg.width, cfg.height) window whose top-left corner sits at (left,
// top) of the resized image (negative where the window reaches into padding). An input pixel centre u
// + 0.5 thus lies at original x = (u + left + 0.5) * w / resized.width, likewise for rows: what maps a
// heat map back onto the original photo.
struct InputPlacement {
    int resized_w = 0, resized_h = 0;
    int left = 0, top = 0;
};
InputPlacement input_placement(int h, int w, const PreprocessConfig& cfg);

// PIL-compatible separable resize of an 8-bit image (CV_8UC1 or CV_8UC3) to (width, height).
cv::Mat resize_like_pil(const cv::Mat& image, int width, int height, Interpolation interp);

}  // namespace vit
