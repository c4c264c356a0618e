#include "vit/explain/patch_baseline.hpp"

#include <algorithm>

#include <opencv2/imgproc.hpp>

namespace vit {

const char* to_string(Baseline b) {
    switch (b) {
        case Baseline::Zero: return "zero";
        case Baseline::Mean: return "mean";
        case Baseline::Blur: return "blur";
    }
    return "?";
}

void baseline_images(const ViTConfig& cfg, Baseline b, const float* x, int n, float* out) {
    const size_t plane = size_t(cfg.img_h) * size_t(cfg.img_w);
    const size_t planes = size_t(n) * size_t(cfg.in_chans);
    for (size_t p = 0; p < planes; ++p) {
        const float* src = x + p * plane;
        float* dst = out + p * plane;
        switch (b) {
            case Baseline::Zero: std::fill_n(dst, plane, 0.0f); break;
            case Baseline::Mean: {
                double sum = 0;
                for (size_t i = 0; i < plane; ++i) sum += src[i];
                std::fill_n(dst, plane, static_cast<float>(sum / double(plane)));
                break;
            }
            case Baseline::Blur: {
                const cv::Mat in(cfg.img_h, cfg.img_w, CV_32F, const_cast<float*>(src));
                cv::Mat blurred(cfg.img_h, cfg.img_w, CV_32F, dst);
                const double sigma = cfg.patch_size;
                // Kernel of ±3 sigma, odd; edges reflected (OpenCV's default BORDER_REFLECT_101).
                const int k = 2 * static_cast<int>(3 * sigma) + 1;
                cv::GaussianBlur(in, blurred, cv::Size(k, k), sigma, sigma);
                break;
            }
        }
    }
}

void copy_patch(const ViTConfig& cfg, int patch, const float* src, float* dst) {
    const int ps = cfg.patch_size, py = patch / cfg.grid_w() * ps, px = patch % cfg.grid_w() * ps;
    for (int ch = 0; ch < cfg.in_chans; ++ch)
        for (int y = py; y < py + ps; ++y) {
            const size_t off = (size_t(ch) * cfg.img_h + y) * cfg.img_w + px;
            std::copy_n(src + off, ps, dst + off);
        }
}

}  // namespace vit
