#include "data/image_reader.hpp"

#include <cstring>

#include <opencv2/imgproc.hpp>

#include "image/cv_image.hpp"

namespace vit::data_detail {

cv::Mat resize_to(const cv::Mat& m, int height, int width) {
    const bool shrinking = height <= m.rows && width <= m.cols;
    cv::Mat out;
    cv::resize(m, out, cv::Size(width, height), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
}

cv::Mat fit_image(const cv::Mat& m, int height, int width, const std::optional<PreprocessConfig>& eval_transform) {
    if (eval_transform) return resize_to_input(m, *eval_transform);
    if (m.rows == height && m.cols == width) return m;
    return resize_to(m, height, width);
}

void read_fitted(const Dataset& d, size_t i, uint8_t* dst) {
    copy_into(fit_image(load_image(d.files[i], d.channels, d.image_limits), d.height, d.width, d.eval_transform), dst);
}

void resized_crop_into(const cv::Mat& src, const CropBox& box, int height, int width, uint8_t* dst) {
    const cv::Mat crop = src(cv::Rect(box.left, box.top, box.width, box.height));
    copy_into(resize_like_pil(crop, width, height, box.interpolation), dst);
}

void copy_into(const cv::Mat& m, uint8_t* dst) {
    const size_t row = size_t(m.cols) * m.channels();
    for (int y = 0; y < m.rows; ++y) std::memcpy(dst + y * row, m.ptr<uint8_t>(y), row);
}

}  // namespace vit::data_detail
