// Image preprocessing, reproducing PIL's results as timm and Hugging Face use them.
//
// load_image: a JPEG, PNG, BMP, TIFF, WebP or Netpbm image (the formats whose size image/header.hpp reads
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
#include <vector>

#include "vit/image/header.hpp"
#include "vit/image/interpolation.hpp"
#include "vit/util/tensor.hpp"

namespace vit {

// How an image is brought to the model's (height, width). The timm modes are its eval transform's
// crop_mode values; each first scales towards scale_size = floor(size / crop_pct) per side.
enum class ResizeMode {
    ShorterSideCrop,  // timm "center": shorter side to scale_size (aspect kept), centre crop
    Squash,           // timm "squash": both sides to scale_size (aspect not kept), centre crop
    Border,           // timm "border": longer side to scale_size (aspect kept), centre crop or pad with
                      // the mean colour, round(255 * mean)
    Direct,           // Hugging Face ViTImageProcessor: resize straight to (height, width)
};

struct PreprocessConfig {
    int channels = 3;
    int height = 224, width = 224;
    Interpolation interpolation = Interpolation::Bicubic;
    ResizeMode resize_mode = ResizeMode::ShorterSideCrop;
    double crop_pct = 0.9;
    std::vector<float> mean{0.5f, 0.5f, 0.5f};
    std::vector<float> std{0.5f, 0.5f, 0.5f};

    void validate() const;  // throws ConfigError
};

const char* to_string(ResizeMode m);
ResizeMode parse_resize_mode(const std::string& s);  // "shorter_side_crop" | "squash" | "border" | "direct"

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

// The file at path, decoded (load_image's limits and errors) and preprocessed: shape (C, H, W).
Tensor preprocess_file(const std::string& path, const PreprocessConfig& cfg);

}  // namespace vit
