// Pictures for `vit explain`: the model's input as an image, heat-map overlays, the panel that puts
// them side by side with the prediction, and the raw mask as 16-bit PNG and .npy.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "common.hpp"
#include "image_file.hpp"
#include "vit/image/preprocess.hpp"

namespace vit_cli {

// OpenCV colormap for a name (jet, inferno, viridis, turbo, magma, plasma, hot, bone, ...). Throws
// UsageError listing the names.
int parse_colormap(const std::string& name);

// The model input x (C, H, W), normalised, turned back into 8-bit BGR: exactly what the model saw
// (after the resize and centre crop), not the original file.
cv::Mat model_view(const float* x, const vit::PreprocessConfig& pre);

// A patch-grid map (gh x gw) upsampled smoothly to (width, height), scaled to [0, 1] by its own
// minimum and maximum (a constant map gives 0 everywhere).
cv::Mat heat_map(const float* map, int gh, int gw, int width, int height);

struct PanelStyle {
    int colormap = 2;  // cv::COLORMAP_JET
    float alpha = 0.5f;
    int size = 224;    // height of the image cells in pixels
};

struct PanelText {
    std::string title;    // e.g. "pred: cat 0.873"
    std::string subtitle; // the method and its options
};

// [input | overlay | heat map] with the text below; with layers (cumulative maps after each block),
// a grid of small overlays labelled by block underneath. Returns 8-bit BGR.
cv::Mat render_panel(const cv::Mat& view, const float* map, int gh, int gw, const std::vector<const float*>& layers,
                     const PanelStyle& style, const PanelText& text);

// The heat map over the original photo (8-bit BGR, any size) at its own resolution and aspect: the map
// (on the model's input grid) is carried back through the preprocessing's resize and crop
// (vit::input_placement), the part of the photo the crop cut off is dimmed, the input window is
// outlined, and the text goes in a strip below.
cv::Mat render_on_original(const cv::Mat& original, const float* map, int gh, int gw, const vit::PreprocessConfig& pre,
                           const PanelStyle& style, const PanelText& text);

// The raw map as a 16-bit PNG or a float32 .npy of shape (gh, gw), written atomically.
void write_mask_png16(const std::string& path, const float* map, int gh, int gw);  // map / max -> 0..65535
void write_npy(const std::string& path, const float* map, int gh, int gw);

}  // namespace vit_cli
