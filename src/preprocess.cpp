// Image loading and preprocessing that reproduces what timm and Hugging Face compute with PIL.
//
// Decoding uses OpenCV; everything after decoding (8-bit reduction, RGB/L conversion, resampling,
// cropping, normalisation) is done here with PIL's arithmetic, so that the float tensors handed to
// the model match the Python references to within JPEG-decoder noise.
#include "vit/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vit/error.hpp"

namespace vit {
namespace {

// ---------------------------------------------------------------------------------------------
// Decoding and conversion to PIL's 8-bit "RGB" / "L" modes
// ---------------------------------------------------------------------------------------------

// Reduces any decoded depth to 8 bits per sample.
// - 16-bit: keep the high byte (v >> 8). This is what PIL's PNG/TIFF unpackers do for 16-bit colour
//   ("RGB;16B" takes the most significant byte), and it maps 8-bit data stored as v * 257 back to v.
//   (PIL opens 16-bit *gray* as mode "I;16" and its conversion to L/RGB clips at 255 instead, which
//   saturates almost every pixel; we deliberately use the same high-byte rule for gray and colour.)
// - float: assumed to be in [0, 1] (the convention of float TIFF/EXR/HDR), scaled by 255, rounded to
//   nearest and clipped.
// - signed 8/16-bit and 32-bit integer: values clipped to [0, 255], as PIL's "I" -> "L" does.
cv::Mat to_8bit(const cv::Mat& m) {
    switch (m.depth()) {
        case CV_8U:
            return m;
        case CV_16U: {
            cv::Mat shifted(m.size(), CV_MAKETYPE(CV_8U, m.channels()));
            for (int y = 0; y < m.rows; ++y) {
                const uint16_t* src = m.ptr<uint16_t>(y);
                uint8_t* dst = shifted.ptr<uint8_t>(y);
                const int n = m.cols * m.channels();
                for (int i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(src[i] >> 8);
            }
            return shifted;
        }
        case CV_32F:
        case CV_64F: {
            cv::Mat out;
            m.convertTo(out, CV_8U, 255.0);  // saturating, round to nearest
            return out;
        }
        default: {
            cv::Mat out;
            m.convertTo(out, CV_8U);  // saturating clip to [0, 255]
            return out;
        }
    }
}

// PIL's integer luminance (Convert.c, L24): L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16, i.e.
// ITU-R 601 weights 0.299/0.587/0.114 in 16-bit fixed point, rounded to nearest.
inline uint8_t pil_luma(int r, int g, int b) {
    return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

// Converts an 8-bit image with 1..4 channels to the requested channel count. `bgr` says whether a
// 3/4-channel input is in OpenCV's BGR(A) order (decoded files) or already RGB(A) (callers of
// preprocess). Alpha is dropped without compositing, as PIL's convert("RGB") / convert("L") do.
cv::Mat convert_channels(const cv::Mat& img8, int channels, bool bgr) {
    const int in_c = img8.channels();
    cv::Mat out(img8.size(), channels == 1 ? CV_8UC1 : CV_8UC3);
    const int ri = bgr ? 2 : 0, bi = bgr ? 0 : 2;
    for (int y = 0; y < img8.rows; ++y) {
        const uint8_t* s = img8.ptr<uint8_t>(y);
        uint8_t* d = out.ptr<uint8_t>(y);
        for (int x = 0; x < img8.cols; ++x, s += in_c) {
            if (in_c <= 2) {  // gray or gray+alpha: replicate the gray value
                if (channels == 1) {
                    d[x] = s[0];
                } else {
                    d[3 * x] = d[3 * x + 1] = d[3 * x + 2] = s[0];
                }
            } else if (channels == 1) {
                d[x] = pil_luma(s[ri], s[1], s[bi]);
            } else {
                d[3 * x] = s[ri];
                d[3 * x + 1] = s[1];
                d[3 * x + 2] = s[bi];
            }
        }
    }
    return out;
}

void check_channels(int channels) {
    if (channels != 1 && channels != 3)
        throw ConfigError("image channels must be 1 or 3, got " + std::to_string(channels));
}

cv::Mat finish_decoded(const cv::Mat& decoded, int channels, const std::string& name) {
    if (decoded.empty() || decoded.rows <= 0 || decoded.cols <= 0)
        throw ImageError("cannot decode image '" + name + "' (not a supported image format or corrupt)");
    if (decoded.channels() < 1 || decoded.channels() > 4)
        throw ImageError("image '" + name + "' has an unsupported channel count " +
                         std::to_string(decoded.channels()));
    return convert_channels(to_8bit(decoded), channels, /*bgr=*/true);
}

// ---------------------------------------------------------------------------------------------
// PIL's separable resampler (Pillow src/libImaging/Resample.c), 8 bits per sample
// ---------------------------------------------------------------------------------------------

// PIL's bicubic kernel with a = -0.5 (Keys' cubic convolution); OpenCV's INTER_CUBIC uses a = -0.75.
double bicubic_filter(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

// Fixed point: 8 bits for the sample, 2 bits of headroom for kernels with negative lobes (partial
// sums can exceed 255 or drop below 0), the remaining 22 bits for the coefficient fraction.
constexpr int kPrecisionBits = 32 - 8 - 2;

// Coefficients of one 1-D pass: output sample i reads `count[i]` input samples from `first[i]` with
// weights k[i * ksize + j], fixed point with kPrecisionBits fraction bits.
struct Coeffs {
    int ksize = 0;
    std::vector<int> first, count;
    std::vector<int32_t> k;
};

// Mirrors Pillow's precompute_coeffs + normalize_coeffs_8bpc for the full-image box [0, in_size).
// Output sample i has its centre at (i + 0.5) * scale in input coordinates. When downscaling
// (scale > 1) the kernel is stretched by `scale` (support and argument), which makes it an
// antialiasing low-pass filter; when upscaling it is the plain interpolation kernel. Weights are
// divided by their sum so that truncation at the borders keeps flat areas flat.
Coeffs precompute_coeffs(int in_size, int out_size, Interpolation interp) {
    double (*filter)(double) = interp == Interpolation::Bicubic ? bicubic_filter : bilinear_filter;
    const double filter_support = interp == Interpolation::Bicubic ? 2.0 : 1.0;

    // Pillow computes in1 - in0 in float before widening; exact for any realistic size.
    const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = filter_support * filterscale;

    Coeffs c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.first.resize(out_size);
    c.count.resize(out_size);
    c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
    std::vector<double> w(c.ksize);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        // Pillow's "(int)(v + 0.5)" rounding (truncation toward zero), kept bit-exact.
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            // Distance from the output centre to the centre (x + xmin + 0.5) of input sample x.
            const double v = filter((x + xmin - center + 0.5) * ss);
            w[x] = v;
            ww += v;
        }
        int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
        for (int x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? w[x] / ww : w[x];
            // Round half away from zero into fixed point, as normalize_coeffs_8bpc does.
            k[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                         : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
        }
        c.first[xx] = xmin;
        c.count[xx] = xmax;
    }
    return c;
}

// Accumulator starts at one half (1 << (P - 1)) so that the final shift rounds to nearest; the
// shifted value is then clipped to [0, 255] (Pillow's clip8 lookup table does exactly this).
inline uint8_t clip8(int64_t acc) {
    const int64_t v = acc >> kPrecisionBits;  // arithmetic shift: floor for negative sums
    return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass over rows [row0, row0 + out.rows) of `in`.
void resample_horizontal(const cv::Mat& in, cv::Mat& out, int row0, const Coeffs& c) {
    const int ch = in.channels();
    for (int yy = 0; yy < out.rows; ++yy) {
        const uint8_t* src = in.ptr<uint8_t>(yy + row0);
        uint8_t* dst = out.ptr<uint8_t>(yy);
        for (int xx = 0; xx < out.cols; ++xx) {
            const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
            const uint8_t* s = src + static_cast<size_t>(c.first[xx]) * ch;
            for (int ci = 0; ci < ch; ++ci) {
                int64_t acc = int64_t{1} << (kPrecisionBits - 1);
                for (int x = 0; x < c.count[xx]; ++x) acc += int64_t{s[x * ch + ci]} * k[x];
                dst[xx * ch + ci] = clip8(acc);
            }
        }
    }
}

// Vertical pass; `row_offset` is subtracted from the coefficient rows (the horizontal pass only
// produced the rows that the vertical pass reads, starting at the first one used).
void resample_vertical(const cv::Mat& in, cv::Mat& out, int row_offset, const Coeffs& c) {
    const int n = out.cols * in.channels();
    std::vector<int64_t> acc(n);
    for (int yy = 0; yy < out.rows; ++yy) {
        const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
        std::fill(acc.begin(), acc.end(), int64_t{1} << (kPrecisionBits - 1));
        for (int y = 0; y < c.count[yy]; ++y) {
            const uint8_t* src = in.ptr<uint8_t>(c.first[yy] - row_offset + y);
            const int64_t ky = k[y];
            for (int i = 0; i < n; ++i) acc[i] += src[i] * ky;
        }
        uint8_t* dst = out.ptr<uint8_t>(yy);
        for (int i = 0; i < n; ++i) dst[i] = clip8(acc[i]);
    }
}

// Python's round() on (diff / 2.0) for an integer diff >= 0: halves go to the even neighbour.
int round_half_even_div2(int diff) {
    const int q = diff / 2;
    if (diff % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1;
}

// Python's round() of a positive double, half to even.
int py_round(double v) {
    const double f = std::floor(v);
    const double r = v - f;
    if (r > 0.5) return static_cast<int>(f) + 1;
    if (r < 0.5) return static_cast<int>(f);
    const int fi = static_cast<int>(f);
    return (fi % 2 == 0) ? fi : fi + 1;
}

// torchvision's CenterCrop on an 8-bit image: zero padding first where the crop is larger than the
// image (left/top pad = (crop - size) // 2, the odd pixel goes right/bottom), then the crop offsets
// int(round((size - crop) / 2.0)).
cv::Mat center_crop(const cv::Mat& img, int crop_h, int crop_w) {
    cv::Mat src = img;
    if (crop_w > src.cols || crop_h > src.rows) {
        const int left = crop_w > src.cols ? (crop_w - src.cols) / 2 : 0;
        const int top = crop_h > src.rows ? (crop_h - src.rows) / 2 : 0;
        const int right = crop_w > src.cols ? (crop_w - src.cols + 1) / 2 : 0;
        const int bottom = crop_h > src.rows ? (crop_h - src.rows + 1) / 2 : 0;
        cv::Mat padded;
        cv::copyMakeBorder(src, padded, top, bottom, left, right, cv::BORDER_CONSTANT, cv::Scalar::all(0));
        src = padded;
    }
    const int top = round_half_even_div2(src.rows - crop_h);
    const int left = round_half_even_div2(src.cols - crop_w);
    return src(cv::Rect(left, top, crop_w, crop_h));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

cv::Mat decode_image(const std::vector<unsigned char>& bytes, int channels, const std::string& name_for_errors) {
    check_channels(channels);
    if (bytes.empty()) throw ImageError("cannot decode image '" + name_for_errors + "': the file is empty");
    cv::Mat decoded;
    try {
        // IMREAD_UNCHANGED keeps depth and alpha, and (like PIL without exif_transpose, which timm and
        // Hugging Face do not call) does not apply the EXIF orientation.
        decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
        return finish_decoded(decoded, channels, name_for_errors);
    } catch (const cv::Exception& e) {
        throw ImageError("cannot decode image '" + name_for_errors + "': " + e.what());
    } catch (const std::bad_alloc&) {
        throw ImageError("cannot decode image '" + name_for_errors + "': out of memory");
    }
}

cv::Mat load_image(const std::string& path, int channels) {
    check_channels(channels);
    // Read the bytes ourselves so that "cannot read" (IoError) and "cannot decode" (ImageError) are
    // told apart; cv::imread reports both as an empty matrix.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw IoError("cannot read image file '" + path + "': it is a directory");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw IoError("cannot open image file '" + path + "'");
    std::vector<unsigned char> bytes;
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    if (size < 0) throw IoError("cannot read image file '" + path + "' (not a regular file?)");
    f.seekg(0, std::ios::beg);
    bytes.resize(static_cast<size_t>(size));
    if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
        throw IoError("cannot read image file '" + path + "'");
    return decode_image(bytes, channels, path);
}

cv::Mat resize_like_pil(const cv::Mat& image, int width, int height, Interpolation interp) {
    if (image.empty()) throw ImageError("cannot resize an empty image");
    if (image.depth() != CV_8U || image.channels() < 1 || image.channels() > 4)
        throw ImageError("resize_like_pil needs an 8-bit image with 1 to 4 channels");
    if (width <= 0 || height <= 0)
        throw ConfigError("resize target must be positive, got " + std::to_string(width) + "x" +
                          std::to_string(height));
    const bool need_h = width != image.cols;
    const bool need_v = height != image.rows;
    if (!need_h && !need_v) return image.clone();

    const Coeffs cv_ = precompute_coeffs(image.rows, height, interp);
    cv::Mat cur = image;
    int row_offset = 0;
    if (need_h) {
        const Coeffs ch = precompute_coeffs(image.cols, width, interp);
        // Only the input rows that the vertical pass will read are resampled horizontally; PIL does
        // the same, and it matters only for speed.
        const int first_row = cv_.first.front();
        const int last_row = cv_.first.back() + cv_.count.back();
        cv::Mat tmp(last_row - first_row, width, CV_MAKETYPE(CV_8U, image.channels()));
        resample_horizontal(image, tmp, first_row, ch);
        cur = tmp;
        row_offset = first_row;
    }
    if (!need_v) return cur;
    cv::Mat out(height, cur.cols, CV_MAKETYPE(CV_8U, image.channels()));
    resample_vertical(cur, out, row_offset, cv_);
    return out;
}

void preprocess(const cv::Mat& image, const PreprocessConfig& cfg, float* out) {
    cfg.validate();
    if (image.empty()) throw ImageError("cannot preprocess an empty image");
    if (image.channels() < 1 || image.channels() > 4)
        throw ImageError("cannot preprocess an image with " + std::to_string(image.channels()) + " channels");

    // Bring the image to 8-bit with the model's channel count (callers pass RGB order).
    cv::Mat img = to_8bit(image);
    if (img.channels() != cfg.channels) img = convert_channels(img, cfg.channels, /*bgr=*/false);

    cv::Mat sized;
    if (cfg.resize_mode == ResizeMode::Direct) {
        // Hugging Face ViTImageProcessor: resize straight to (height, width), no crop.
        sized = resize_like_pil(img, cfg.width, cfg.height, cfg.interpolation);
    } else if (cfg.resize_mode == ResizeMode::DirectCrop) {
        // Hugging Face DeiTImageProcessor: resize straight to (height, width) / crop_pct, ignoring the
        // aspect ratio (256x256 for a 224 model), then crop (height, width) from the centre.
        const int rh = static_cast<int>(std::floor(cfg.height / cfg.crop_pct));
        const int rw = static_cast<int>(std::floor(cfg.width / cfg.crop_pct));
        sized = center_crop(resize_like_pil(img, rw, rh, cfg.interpolation), cfg.height, cfg.width);
    } else {
        // timm eval transform (crop_mode "center"): scale_size = floor(size / crop_pct) per side.
        const int scale_h = static_cast<int>(std::floor(cfg.height / cfg.crop_pct));
        const int scale_w = static_cast<int>(std::floor(cfg.width / cfg.crop_pct));
        const int h = img.rows, w = img.cols;
        int new_h, new_w;
        if (scale_h == scale_w) {
            // torchvision Resize(int): shorter side -> scale, longer side -> int(scale * long / short)
            // (truncation, computed in double exactly as Python's true division).
            const int s = scale_h;
            if (w <= h) {
                new_w = s;
                new_h = static_cast<int>(static_cast<double>(s) * h / w);
            } else {
                new_h = s;
                new_w = static_cast<int>(static_cast<double>(s) * w / h);
            }
        } else {
            // Non-square model input: current timm (>= 0.9) uses ResizeKeepRatio(scale_size): one
            // ratio, the smaller of h / scale_h and w / scale_w, so that the image just covers the
            // (scale_h, scale_w) box without distortion; each side is round(side / ratio) with
            // Python's half-to-even rounding. (timm < 0.9 squashed to scale_size instead. timm also
            // omits the interpolation argument here, so it resamples bilinearly whatever the config
            // says; we keep the configured kernel, so such models can differ slightly from timm here.)
            const double ratio = std::min(static_cast<double>(h) / scale_h, static_cast<double>(w) / scale_w);
            new_h = py_round(h / ratio);
            new_w = py_round(w / ratio);
        }
        new_h = std::max(new_h, 1);
        new_w = std::max(new_w, 1);
        cv::Mat resized = resize_like_pil(img, new_w, new_h, cfg.interpolation);
        sized = center_crop(resized, cfg.height, cfg.width);
    }

    // ToTensor (x / 255 in float32) then Normalize ((x - mean) / std in float32), planar CHW.
    const int C = cfg.channels, H = cfg.height, W = cfg.width;
    for (int c = 0; c < C; ++c) {
        const float mean = cfg.mean[c], stdv = cfg.std[c];
        float* plane = out + static_cast<size_t>(c) * H * W;
        for (int y = 0; y < H; ++y) {
            const uint8_t* row = sized.ptr<uint8_t>(y);
            for (int x = 0; x < W; ++x) {
                const float v = static_cast<float>(row[x * C + c]) / 255.0f;
                plane[static_cast<size_t>(y) * W + x] = (v - mean) / stdv;
            }
        }
    }
}

Tensor preprocess_file(const std::string& path, const PreprocessConfig& cfg) {
    cfg.validate();
    cv::Mat img = load_image(path, cfg.channels);
    Tensor t(Shape{cfg.channels, cfg.height, cfg.width});
    preprocess(img, cfg, t.ptr());
    return t;
}

}  // namespace vit
