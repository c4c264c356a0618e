#include "explain_render.hpp"
#include "vit/image/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>

#include <opencv2/imgproc.hpp>

namespace vit_cli {

namespace {

const std::map<std::string, int>& colormaps() {
    static const std::map<std::string, int> kMaps = {
        {"autumn", cv::COLORMAP_AUTUMN}, {"bone", cv::COLORMAP_BONE},       {"cividis", cv::COLORMAP_CIVIDIS},
        {"cool", cv::COLORMAP_COOL},     {"hot", cv::COLORMAP_HOT},         {"inferno", cv::COLORMAP_INFERNO},
        {"jet", cv::COLORMAP_JET},       {"magma", cv::COLORMAP_MAGMA},     {"ocean", cv::COLORMAP_OCEAN},
        {"parula", cv::COLORMAP_PARULA}, {"pink", cv::COLORMAP_PINK},       {"plasma", cv::COLORMAP_PLASMA},
        {"rainbow", cv::COLORMAP_RAINBOW}, {"turbo", cv::COLORMAP_TURBO},   {"twilight", cv::COLORMAP_TWILIGHT},
        {"viridis", cv::COLORMAP_VIRIDIS}, {"winter", cv::COLORMAP_WINTER},
    };
    return kMaps;
}

// Input image resized to a display cell: area averaging when shrinking, cubic when enlarging (a
// 32x32 CIFAR image shown at 224 pixels).
cv::Mat fit(const cv::Mat& image, int width, int height) {
    if (image.cols == width && image.rows == height) return image.clone();
    cv::Mat out;
    const bool shrink = width < image.cols || height < image.rows;
    cv::resize(image, out, cv::Size(width, height), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_CUBIC);
    return out;
}

cv::Mat overlay(const cv::Mat& view, const float* map, int gh, int gw, int width, int height, const PanelStyle& s,
                cv::Mat* colour_out = nullptr) {
    cv::Mat heat8, colour, out;
    heat_map(map, gh, gw, width, height).convertTo(heat8, CV_8U, 255.0);
    cv::applyColorMap(heat8, colour, s.colormap);
    cv::addWeighted(fit(view, width, height), 1.0 - s.alpha, colour, s.alpha, 0.0, out);
    if (colour_out) *colour_out = colour;
    return out;
}

void put_text(cv::Mat& canvas, const std::string& text, int x, int baseline_y, double scale) {
    cv::putText(canvas, text, cv::Point(x, baseline_y), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 1,
                cv::LINE_AA);
}

}  // namespace

int parse_colormap(const std::string& name) {
    const auto found = colormaps().find(name);
    if (found != colormaps().end()) return found->second;
    std::string names;
    for (const auto& [n, id] : colormaps()) names += (names.empty() ? "" : ", ") + n;
    throw UsageError("unknown colormap '" + name + "' (expected one of " + names + ")");
}

cv::Mat model_view(const float* x, const vit::PreprocessConfig& pre) {
    const int C = pre.channels, H = pre.height, W = pre.width;
    cv::Mat rgb(H, W, C == 1 ? CV_8UC1 : CV_8UC3);
    for (int y = 0; y < H; ++y) {
        uint8_t* row = rgb.ptr<uint8_t>(y);
        for (int xx = 0; xx < W; ++xx)
            for (int c = 0; c < C; ++c) {
                const float v = x[(size_t(c) * H + y) * W + xx] * pre.std[size_t(c)] + pre.mean[size_t(c)];
                row[xx * C + c] = cv::saturate_cast<uint8_t>(std::lround(v * 255.0f));
            }
    }
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, C == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_RGB2BGR);
    return bgr;
}

cv::Mat heat_map(const float* map, int gh, int gw, int width, int height) {
    cv::Mat grid(gh, gw, CV_32F);
    std::memcpy(grid.ptr<float>(), map, sizeof(float) * size_t(gh) * gw);
    double lo = 0, hi = 0;
    cv::minMaxLoc(grid, &lo, &hi);
    if (hi > lo) {
        grid = (grid - lo) / (hi - lo);
    } else {
        grid.setTo(0.0f);
    }
    cv::Mat up;
    cv::resize(grid, up, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
    // The cubic kernel overshoots around sharp peaks; keep the colours within the map's range.
    return cv::min(cv::max(up, 0.0), 1.0);
}

cv::Mat render_panel(const cv::Mat& view, const float* map, int gh, int gw, const std::vector<const float*>& layers,
                     const PanelStyle& style, const PanelText& text) {
    const int ch = style.size;
    const int cw = std::max(1, static_cast<int>(std::lround(double(ch) * view.cols / view.rows)));
    const double font = std::max(0.35, 0.5 * ch / 224.0);
    const int line = static_cast<int>(std::ceil(30 * font / 0.5));
    const int width = 3 * cw;

    // Cumulative maps: up to 6 per row, each a third to a sixth of the panel's width.
    const int cols = std::min<int>(6, static_cast<int>(layers.size()));
    const int lw = cols > 0 ? width / cols : 0;
    const int lh = cols > 0 ? std::max(1, static_cast<int>(std::lround(double(lw) * view.rows / view.cols))) : 0;
    const int rows = cols > 0 ? (static_cast<int>(layers.size()) + cols - 1) / cols : 0;
    const double small_font = std::max(0.3, 0.4 * lw / 112.0);
    const int small_line = static_cast<int>(std::ceil(24 * small_font / 0.4));

    const int height = ch + 2 * line + rows * (lh + small_line);
    cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::Mat colour;
    const cv::Mat blended = overlay(view, map, gh, gw, cw, ch, style, &colour);
    fit(view, cw, ch).copyTo(canvas(cv::Rect(0, 0, cw, ch)));
    blended.copyTo(canvas(cv::Rect(cw, 0, cw, ch)));
    colour.copyTo(canvas(cv::Rect(2 * cw, 0, cw, ch)));
    put_text(canvas, text.title, 6, ch + line - line / 4, font);
    put_text(canvas, text.subtitle, 6, ch + 2 * line - line / 4, font * 0.8);

    for (size_t i = 0; i < layers.size(); ++i) {
        const int r = static_cast<int>(i) / cols, c = static_cast<int>(i) % cols;
        const int y = ch + 2 * line + r * (lh + small_line);
        put_text(canvas, "blocks 1-" + std::to_string(i + 1), c * lw + 4, y + small_line - small_line / 4,
                 small_font);
        overlay(view, layers[i], gh, gw, lw, lh, style).copyTo(canvas(cv::Rect(c * lw, y + small_line, lw, lh)));
    }
    return canvas;
}

cv::Mat render_on_original(const cv::Mat& original, const float* map, int gh, int gw, const vit::PreprocessConfig& pre,
                           const PanelStyle& style, const PanelText& text) {
    const int w = original.cols, h = original.rows;
    const vit::InputPlacement at = vit::input_placement(h, w, pre);
    // Original pixel centre (x + 0.5) lies at resized (x + 0.5) * rw / w, i.e. at input pixel
    // u = (x + 0.5) * rw / w - 0.5 - left; warpAffine's inverse map takes exactly that affine map.
    const double sx = double(at.resized_w) / w, sy = double(at.resized_h) / h;
    const cv::Matx23d to_input(sx, 0, 0.5 * sx - 0.5 - at.left, 0, sy, 0.5 * sy - 0.5 - at.top);
    cv::Mat heat;
    cv::warpAffine(heat_map(map, gh, gw, pre.width, pre.height), heat, to_input, cv::Size(w, h),
                   cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, cv::Scalar(-1.0));
    cv::Mat heat8, colour;
    cv::max(heat, 0.0, heat8);
    heat8.convertTo(heat8, CV_8U, 255.0);
    cv::applyColorMap(heat8, colour, style.colormap);
    cv::Mat blended, dimmed;
    cv::addWeighted(original, 1.0 - style.alpha, colour, style.alpha, 0.0, blended);
    original.convertTo(dimmed, -1, 0.4, 0.6 * 255 * 0.5);
    // Outside the model's window the photo is dimmed: the model never saw it.
    dimmed.copyTo(blended, heat < 0);

    const double font = std::max(0.4, 0.5 * w / 448.0);
    const int line = static_cast<int>(std::ceil(30 * font / 0.5));
    cv::Mat canvas(h + 2 * line, w, CV_8UC3, cv::Scalar(255, 255, 255));
    blended.copyTo(canvas(cv::Rect(0, 0, w, h)));
    const cv::Point top_left(static_cast<int>(std::lround(at.left / sx)), static_cast<int>(std::lround(at.top / sy)));
    const cv::Point bottom_right(static_cast<int>(std::lround((at.left + pre.width) / sx)) - 1,
                                 static_cast<int>(std::lround((at.top + pre.height) / sy)) - 1);
    cv::rectangle(canvas(cv::Rect(0, 0, w, h)), top_left, bottom_right, cv::Scalar(255, 255, 255),
                  std::max(1, w / 400), cv::LINE_AA);
    put_text(canvas, text.title, 6, h + line - line / 4, font);
    put_text(canvas, text.subtitle, 6, h + 2 * line - line / 4, font * 0.8);
    return canvas;
}

void write_mask_png16(const std::string& path, const float* map, int gh, int gw) {
    const float hi = *std::max_element(map, map + size_t(gh) * gw);
    cv::Mat m(gh, gw, CV_16UC1);
    for (int i = 0; i < gh * gw; ++i)
        m.ptr<uint16_t>()[i] = hi > 0 ? cv::saturate_cast<uint16_t>(std::lround(65535.0 * map[i] / hi)) : 0;
    write_png(path, m);
}

void write_npy(const std::string& path, const float* map, int gh, int gw) {
    // NPY 1.0: magic, version, little-endian header length, a Python dict literal padded with spaces
    // so that the data starts at a multiple of 64 bytes, then the raw little-endian float32 values.
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(gh) + ", " +
                         std::to_string(gw) + "), }";
    const size_t prefix = 10;
    header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string text = "\x93NUMPY";
    text += {char(1), char(0), char(header.size() & 0xff), char(header.size() >> 8)};
    text += header;
    std::vector<unsigned char> bytes(text.begin(), text.end());
    for (int i = 0; i < gh * gw; ++i) {
        uint32_t u;
        std::memcpy(&u, &map[i], 4);
        for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<unsigned char>(u >> (8 * k)));
    }
    write_bytes(path, bytes);
}

}  // namespace vit_cli
