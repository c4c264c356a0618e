// Image loading and preprocessing that reproduces what timm and Hugging Face compute with PIL.
//
// Decoding uses OpenCV; everything after decoding (8-bit reduction, RGB/L conversion, resampling,
// cropping, normalisation) is done here with PIL's arithmetic, so that the float tensors handed to
// the model match the Python references to within JPEG-decoder noise.
#include "image/cv_image.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image/resample_weights.hpp"
#include "util/cpu_dispatch.hpp"
#include "vit/util/error.hpp"
#include "image/pixels.hpp"

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

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the full-image box [0, in_size): the
// antialiased weights (resample_weights.hpp), rounded half away from zero into fixed point.
Coeffs precompute_coeffs(int in_size, int out_size, Interpolation interp) {
    const detail::ResampleWeights r = detail::antialias_weights(in_size, out_size, interp);
    Coeffs c;
    c.ksize = r.ksize;
    c.first = r.first;
    c.count = r.count;
    c.k.resize(r.w.size());
    for (size_t i = 0; i < r.w.size(); ++i) {
        const double v = r.w[i];
        c.k[i] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                       : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    return c;
}

// Accumulator starts at one half (1 << (P - 1)) so that the final shift rounds to nearest; the
// shifted value is then clipped to [0, 255] (Pillow's clip8 lookup table does exactly this). The
// accumulators are 32-bit, as Pillow's: 255 times the sum of |weights| (at most about 1.3 · 2^22 for
// bicubic's negative lobes) stays below 2^31, so the sums are exact and equal to Pillow's.
inline uint8_t clip8(int32_t acc) {
    const int32_t v = acc >> kPrecisionBits;  // arithmetic shift: floor for negative sums
    return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Vertical pass; `row_offset` is subtracted from the coefficient rows (the horizontal pass only
// produced the rows that the vertical pass reads, starting at the first one used). The inner loop runs
// along a row of bytes, which the AVX-512 version does 16 at a time.
VIT_KERNEL_BODY inline void resample_vertical(const cv::Mat& in, cv::Mat& out, int row_offset, const Coeffs& c) {
    const int n = out.cols * in.channels();
    std::vector<int32_t> acc(static_cast<size_t>(n));
    int32_t* a = acc.data();
    for (int yy = 0; yy < out.rows; ++yy) {
        const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
        std::fill(acc.begin(), acc.end(), int32_t{1} << (kPrecisionBits - 1));
        for (int y = 0; y < c.count[yy]; ++y) {
            const uint8_t* src = in.ptr<uint8_t>(c.first[yy] - row_offset + y);
            const int32_t ky = k[y];
            for (int i = 0; i < n; ++i) a[i] += int32_t{src[i]} * ky;
        }
        uint8_t* dst = out.ptr<uint8_t>(yy);
        for (int i = 0; i < n; ++i) dst[i] = clip8(a[i]);
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

// torchvision's CenterCrop and timm's CenterCropOrPad on an 8-bit image: where the crop is larger
// than the image, pad first with `fill` (left/top pad = (crop - size) // 2, the odd pixel goes
// right/bottom), then crop at offsets int(round((size - crop) / 2.0)). CenterCrop pads with 0,
// CenterCropOrPad with the colour it is given.
cv::Mat center_crop_or_pad(const cv::Mat& img, int crop_h, int crop_w, const cv::Scalar& fill) {
    cv::Mat src = img;
    if (crop_w > src.cols || crop_h > src.rows) {
        const int left = crop_w > src.cols ? (crop_w - src.cols) / 2 : 0;
        const int top = crop_h > src.rows ? (crop_h - src.rows) / 2 : 0;
        const int right = crop_w > src.cols ? (crop_w - src.cols + 1) / 2 : 0;
        const int bottom = crop_h > src.rows ? (crop_h - src.rows + 1) / 2 : 0;
        cv::Mat padded;
        cv::copyMakeBorder(src, padded, top, bottom, left, right, cv::BORDER_CONSTANT, fill);
        src = padded;
    }
    const int top = round_half_even_div2(src.rows - crop_h);
    const int left = round_half_even_div2(src.cols - crop_w);
    return src(cv::Rect(left, top, crop_w, crop_h));
}

// timm's ResizeKeepRatio(scale_size, longest) target size: one ratio for both sides, so the aspect is
// kept. With longest = 0 it is the smaller of h / scale_h and w / scale_w, so that the image just
// covers the (scale_h, scale_w) box and a centre crop follows; with longest = 1 the larger, so that
// the image just fits inside the box and padding makes up the rest. Each side becomes
// round(side / ratio) with Python's half-to-even rounding (at least 1 pixel).
cv::Size keep_ratio_size(int h, int w, int scale_h, int scale_w, bool fit_inside) {
    const double ratio_h = static_cast<double>(h) / scale_h, ratio_w = static_cast<double>(w) / scale_w;
    const double ratio = fit_inside ? std::max(ratio_h, ratio_w) : std::min(ratio_h, ratio_w);
    return {std::max(py_round(w / ratio), 1), std::max(py_round(h / ratio), 1)};
}

// timm's 'border' padding colour: [round(255 * v) for v in mean], in the image's channel order (RGB
// here), clipped to 8 bits. The padded pixels thus normalise to about 0. (Our mean is a float, timm's
// a Python float: 255 * v could only round differently within ~1e-5 of a half, i.e. never for
// published means; 0.5 itself is exact and gives round(127.5) = 128.)
cv::Scalar mean_colour(const std::vector<float>& mean) {
    cv::Scalar fill;
    for (size_t c = 0; c < mean.size() && c < 4; ++c)
        fill[static_cast<int>(c)] = std::clamp(py_round(255.0 * static_cast<double>(mean[c])), 0, 255);
    return fill;
}

// The size an image of h x w is resized to before the centre crop (or pad) to the model's input, and
// the padding colour, following cfg.resize_mode. Direct resizing has no crop.
struct ResizePlan {
    cv::Size size;
    cv::Scalar fill = cv::Scalar::all(0);  // CenterCrop's padding, used when crop_pct > 1
    bool crop = true;
};

ResizePlan resize_plan(int h, int w, const PreprocessConfig& cfg) {
    // timm's eval transform (transforms_imagenet_eval): scale_size = floor(size / crop_pct) per side,
    // then one of its crop modes. (Its crop_border_pixels, a border trimmed off before resizing, is a
    // data-loader argument, not part of a model's pretrained_cfg, so no checkpoint carries it.) At
    // least 1 pixel, where timm would fail on an absurd crop_pct.
    const int scale_h = std::max(static_cast<int>(std::floor(cfg.height / cfg.crop_pct)), 1);
    const int scale_w = std::max(static_cast<int>(std::floor(cfg.width / cfg.crop_pct)), 1);
    ResizePlan plan;
    switch (cfg.resize_mode) {
        case ResizeMode::Direct:
            // Hugging Face ViTImageProcessor: straight to (height, width), no crop.
            plan.size = {cfg.width, cfg.height};
            plan.crop = false;
            break;
        case ResizeMode::Squash:
            // transforms.Resize((scale_h, scale_w)): both sides, aspect not kept.
            plan.size = {scale_w, scale_h};
            break;
        case ResizeMode::Border:
            // ResizeKeepRatio(scale_size, longest=1) then CenterCropOrPad(size, fill=mean colour):
            // nothing of the image is lost when crop_pct is 1.
            plan.size = keep_ratio_size(h, w, scale_h, scale_w, /*fit_inside=*/true);
            plan.fill = mean_colour(cfg.mean);
            break;
        case ResizeMode::ShorterSideCrop:
            if (scale_h == scale_w) {
                // torchvision Resize(int): shorter side -> scale, longer side -> int(scale * long / short)
                // (truncation, computed in double exactly as Python's true division).
                const int s = scale_h;
                plan.size = w <= h ? cv::Size(s, static_cast<int>(static_cast<double>(s) * h / w))
                                   : cv::Size(static_cast<int>(static_cast<double>(s) * w / h), s);
                plan.size = {std::max(plan.size.width, 1), std::max(plan.size.height, 1)};
            } else {
                // Non-square model input: current timm (>= 0.9) uses ResizeKeepRatio(scale_size), the
                // image just covering the box. (timm < 0.9 squashed to scale_size instead. timm also
                // omits the interpolation argument here, so it resamples bilinearly whatever the config
                // says; we keep the configured kernel, so such models can differ slightly from timm.)
                plan.size = keep_ratio_size(h, w, scale_h, scale_w, /*fit_inside=*/false);
            }
            break;
    }
    return plan;
}

// The window's offset along one side of `resized` pixels for a crop of `crop`: center_crop_or_pad's
// padding (half, rounded down, before) and then its centre crop.
int window_offset(int resized, int crop) {
    if (crop > resized) return -((crop - resized) / 2);
    return round_half_even_div2(resized - crop);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

cv::Mat resize_to_input(const cv::Mat& img, const PreprocessConfig& cfg) {
    const ResizePlan plan = resize_plan(img.rows, img.cols, cfg);
    const cv::Mat resized = resize_like_pil(img, plan.size.width, plan.size.height, cfg.interpolation);
    return plan.crop ? center_crop_or_pad(resized, cfg.height, cfg.width, plan.fill) : resized;
}

InputPlacement input_placement(int h, int w, const PreprocessConfig& cfg) {
    cfg.validate();
    if (h < 1 || w < 1)
        throw ImageError("an image of " + std::to_string(w) + "x" + std::to_string(h) + " pixels has no placement");
    const ResizePlan plan = resize_plan(h, w, cfg);
    InputPlacement p;
    p.resized_w = plan.size.width;
    p.resized_h = plan.size.height;
    if (plan.crop) {
        p.left = window_offset(plan.size.width, cfg.width);
        p.top = window_offset(plan.size.height, cfg.height);
    }
    return p;
}

cv::Mat decode_image(const std::vector<unsigned char>& bytes, int channels, const std::string& name_for_errors,
                     const ImageLimits& limits) {
    check_channels(channels);
    if (bytes.empty()) throw ImageError("cannot decode image '" + name_for_errors + "': the file is empty");
    // The size the header declares, checked before the decoder allocates the pixels.
    check_image_header(bytes, limits, name_for_errors);
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

cv::Mat load_image(const std::string& path, int channels, const ImageLimits& limits) {
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
    return decode_image(bytes, channels, path, limits);
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
        // The horizontal pass is the vertical one on the transposed image: the same sums, but along
        // contiguous rows of bytes, which vectorise, instead of a few taps per output pixel.
        cv::Mat columns;
        cv::transpose(image.rowRange(first_row, last_row), columns);
        cv::Mat resampled(width, columns.cols, columns.type());
        cpu::vectorized<resample_vertical>(columns, resampled, 0, ch);
        cv::transpose(resampled, cur);
        row_offset = first_row;
    }
    if (!need_v) return cur;
    cv::Mat out(height, cur.cols, CV_MAKETYPE(CV_8U, image.channels()));
    cpu::vectorized<resample_vertical>(cur, out, row_offset, cv_);
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

    const cv::Mat sized = resize_to_input(img, cfg);

    // ToTensor (x / 255 in float32) then Normalize ((x - mean) / std in float32), planar CHW.
    const int C = cfg.channels, H = cfg.height, W = cfg.width;
    for (int c = 0; c < C; ++c) {
        const float mean = cfg.mean[c], stdv = cfg.std[c];
        float* plane = out + static_cast<size_t>(c) * H * W;
        for (int y = 0; y < H; ++y) {
            const uint8_t* row = sized.ptr<uint8_t>(y);
            for (int x = 0; x < W; ++x) plane[static_cast<size_t>(y) * W + x] = normalise_pixel(row[x * C + c], mean, stdv);
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

void PreprocessConfig::validate() const {
    auto fail = [](const std::string& what) { throw ConfigError("invalid preprocessing: " + what); };
    if (channels != 1 && channels != 3) fail("channels must be 1 or 3, got " + std::to_string(channels));
    if (height <= 0 || width <= 0) fail("input size must be positive");
    if (interpolation == Interpolation::Nearest)
        fail("interpolation must be bilinear or bicubic (PIL's antialiased filters), got nearest");
    if (!(crop_pct > 0 && crop_pct <= 4)) fail("crop_pct must be in (0, 4], got " + std::to_string(crop_pct));
    if (mean.size() != static_cast<size_t>(channels) || std.size() != static_cast<size_t>(channels))
        fail("mean and std need " + std::to_string(channels) + " values, got " + std::to_string(mean.size()) +
             " and " + std::to_string(std.size()));
    for (float s : std)
        if (!(s > 0)) fail("std values must be positive");
}

const char* to_string(ResizeMode m) {
    switch (m) {
    case ResizeMode::ShorterSideCrop: return "shorter_side_crop";
    case ResizeMode::Squash: return "squash";
    case ResizeMode::Border: return "border";
    case ResizeMode::Direct: return "direct";
    }
    return "?";
}

ResizeMode parse_resize_mode(const std::string& s) {
    if (s == "shorter_side_crop") return ResizeMode::ShorterSideCrop;
    if (s == "squash") return ResizeMode::Squash;
    if (s == "border") return ResizeMode::Border;
    if (s == "direct") return ResizeMode::Direct;
    throw ConfigError("unknown resize mode '" + s + "' (expected shorter_side_crop, squash, border or direct)");
}

}  // namespace vit
