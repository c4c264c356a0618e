#include "vit/image/geometry.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "image/pixels.hpp"

namespace vit {
namespace {

size_t pixels(int height, int width) { return size_t(height) * size_t(width); }

void apply_luts(uint8_t* img, int height, int width, int channels, const std::vector<std::array<uint8_t, 256>>& lut) {
    const size_t n = pixels(height, width);
    for (size_t i = 0; i < n; ++i)
        for (int c = 0; c < channels; ++c) img[i * channels + c] = lut[size_t(c)][img[i * channels + c]];
}

void apply_lut(uint8_t* img, int height, int width, int channels, const std::array<uint8_t, 256>& lut) {
    apply_luts(img, height, width, channels, std::vector<std::array<uint8_t, 256>>(size_t(channels), lut));
}

std::vector<std::array<int64_t, 256>> histograms(const uint8_t* img, int height, int width, int channels) {
    std::vector<std::array<int64_t, 256>> h(static_cast<size_t>(channels));
    for (auto& c : h) c.fill(0);
    const size_t n = pixels(height, width);
    for (size_t i = 0; i < n; ++i)
        for (int c = 0; c < channels; ++c) ++h[size_t(c)][img[i * channels + c]];
    return h;
}

// PIL's Blend.c: in1 + alpha (in2 - in1) in float, truncated; clipped only when alpha leaves [0, 1].
uint8_t blend(uint8_t degenerate, uint8_t v, float alpha) {
    const float t = static_cast<float>(int(degenerate)) + alpha * static_cast<float>(int(v) - int(degenerate));
    if (alpha >= 0.0f && alpha <= 1.0f) return static_cast<uint8_t>(t);
    if (t <= 0.0f) return 0;
    if (t >= 255.0f) return 255;
    return static_cast<uint8_t>(t);
}

void blend_with(uint8_t* img, const uint8_t* degenerate, size_t n, float factor) {
    for (size_t i = 0; i < n; ++i) img[i] = blend(degenerate[i], img[i], factor);
}

// PIL's Geometry.c filters. A centre outside the image takes the fill; inside, the neighbours'
// columns are clamped to the image (XCLIP), the first row too (YCLIP), and a later row outside the
// image repeats the row before it.
int clip(int v, int size) { return v < 0 ? 0 : v < size ? v : size - 1; }

void bilinear(const uint8_t* src, int H, int W, int C, double u, double v, const uint8_t* fill, uint8_t* out) {
    if (u < 0.0 || u >= W || v < 0.0 || v >= H) return void(std::copy_n(fill, C, out));
    u -= 0.5;
    v -= 0.5;
    const int x = static_cast<int>(std::floor(u)), y = static_cast<int>(std::floor(v));
    const double dx = u - x, dy = v - y;
    const int x0 = clip(x, W), x1 = clip(x + 1, W);
    for (int c = 0; c < C; ++c) {
        auto at = [&](int row, int col) { return double(src[(size_t(row) * W + col) * C + c]); };
        const int r0 = clip(y, H);
        const double v1 = at(r0, x0) + (at(r0, x1) - at(r0, x0)) * dx;
        const double v2 = y + 1 >= 0 && y + 1 < H ? at(y + 1, x0) + (at(y + 1, x1) - at(y + 1, x0)) * dx : v1;
        const double r = v1 + (v2 - v1) * dy;
        out[c] = static_cast<uint8_t>(r);  // PIL truncates; r is within [0, 255]
    }
}

// PIL's cubic with a = -1: p1 + d (p2 + d (p3 + d p4)) over four taps.
double cubic(double v1, double v2, double v3, double v4, double d) {
    const double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
    return p1 + d * (p2 + d * (p3 + d * p4));
}

void bicubic(const uint8_t* src, int H, int W, int C, double u, double v, const uint8_t* fill, uint8_t* out) {
    if (u < 0.0 || u >= W || v < 0.0 || v >= H) return void(std::copy_n(fill, C, out));
    u -= 0.5;
    v -= 0.5;
    int x = static_cast<int>(std::floor(u)), y = static_cast<int>(std::floor(v));
    const double dx = u - x, dy = v - y;
    --x;
    --y;
    const int xs[4] = {clip(x, W), clip(x + 1, W), clip(x + 2, W), clip(x + 3, W)};
    for (int c = 0; c < C; ++c) {
        auto row = [&](int r) {
            const uint8_t* p = src + size_t(r) * W * C + c;
            return cubic(p[xs[0] * C], p[xs[1] * C], p[xs[2] * C], p[xs[3] * C], dx);
        };
        double vs[4];
        vs[0] = row(clip(y, H));
        for (int k = 1; k < 4; ++k) vs[k] = y + k >= 0 && y + k < H ? row(y + k) : vs[k - 1];
        const double r = cubic(vs[0], vs[1], vs[2], vs[3], dy);
        out[c] = r <= 0.0 ? 0 : r >= 255.0 ? 255 : static_cast<uint8_t>(r);
    }
}

// PIL's (int) cast after its COORD macro: -1 for anything below 0, so that it lands outside.
int coord(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }

}  // namespace

void affine_transform(const uint8_t* src, uint8_t* dst, int H, int W, int C, const double m[6], Interpolation resample,
                      const uint8_t* fill) {
    if (resample != Interpolation::Nearest) {
        // PIL's ImagingGenericTransform: each output centre mapped in double precision, then the filter.
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const double u = m[0] * (x + 0.5) + m[1] * (y + 0.5) + m[2];
                const double v = m[3] * (x + 0.5) + m[4] * (y + 0.5) + m[5];
                uint8_t* o = dst + (size_t(y) * W + x) * C;
                if (resample == Interpolation::Bilinear) bilinear(src, H, W, C, u, v, fill, o);
                else bicubic(src, H, W, C, u, v, fill, o);
            }
        return;
    }
    auto put = [&](int x, int y, int xin, int yin) {
        uint8_t* o = dst + (size_t(y) * W + x) * C;
        if (xin >= 0 && xin < W && yin >= 0 && yin < H) std::copy_n(src + (size_t(yin) * W + xin) * C, C, o);
        else std::copy_n(fill, C, o);
    };
    if (m[1] == 0.0 && m[3] == 0.0) {
        // PIL's ImagingScaleAffine: positions in double, stepped from the first pixel's centre.
        std::vector<int> xin(static_cast<size_t>(W));
        double xo = m[2] + m[0] * 0.5;
        for (int x = 0; x < W; ++x, xo += m[0]) xin[size_t(x)] = coord(xo);
        double yo = m[5] + m[4] * 0.5;
        for (int y = 0; y < H; ++y, yo += m[4]) {
            const int yin = coord(yo);
            for (int x = 0; x < W; ++x) put(x, y, xin[size_t(x)], yin);
        }
        return;
    }
    // PIL's affine_fixed: 16.16 fixed point, stepped from the first pixel's centre; the arithmetic
    // shift floors, so positions just below 0 land at -1, outside.
    auto fix = [](double v) { return static_cast<int>(std::floor(v * 65536.0 + 0.5)); };
    const int a0 = fix(m[0]), a1 = fix(m[1]), a3 = fix(m[3]), a4 = fix(m[4]);
    int a2 = fix(m[2] + m[0] * 0.5 + m[1] * 0.5), a5 = fix(m[5] + m[3] * 0.5 + m[4] * 0.5);
    for (int y = 0; y < H; ++y, a2 += a1, a5 += a4) {
        int xx = a2, yy = a5;
        for (int x = 0; x < W; ++x, xx += a0, yy += a3) put(x, y, xx >> 16, yy >> 16);
    }
}

void rotation_matrix(double degrees, int height, int width, double m[6]) {
    // Image.rotate: angle = -radians(degrees % 360); matrix rows rounded to 15 decimals; then centred on
    // (w / 2, h / 2): c = -(a cx + b cy) + cx, f = -(d cx + e cy) + cy.
    const double angle = -std::fmod(degrees, 360.0) * M_PI / 180.0;
    auto round15 = [](double v) { return std::nearbyint(v * 1e15) / 1e15; };
    const double a = round15(std::cos(angle)), b = round15(std::sin(angle));
    const double cx = width / 2.0, cy = height / 2.0;
    m[0] = a;
    m[1] = b;
    m[3] = -b;
    m[4] = a;
    m[2] = a * -cx + b * -cy + cx;
    m[5] = -b * -cx + a * -cy + cy;
}

void invert(uint8_t* img, int height, int width, int channels) {
    std::array<uint8_t, 256> lut;
    for (int i = 0; i < 256; ++i) lut[size_t(i)] = static_cast<uint8_t>(255 - i);
    apply_lut(img, height, width, channels, lut);
}

void posterize(uint8_t* img, int height, int width, int channels, int bits) {
    // ImageOps.posterize: v & ~(2^(8 - bits) - 1).
    const int mask = ~((1 << (8 - std::clamp(bits, 0, 8))) - 1);
    std::array<uint8_t, 256> lut;
    for (int i = 0; i < 256; ++i) lut[size_t(i)] = static_cast<uint8_t>(i & mask);
    apply_lut(img, height, width, channels, lut);
}

void solarize(uint8_t* img, int height, int width, int channels, double threshold) {
    std::array<uint8_t, 256> lut;
    for (int i = 0; i < 256; ++i) lut[size_t(i)] = static_cast<uint8_t>(i < threshold ? i : 255 - i);
    apply_lut(img, height, width, channels, lut);
}

void solarize_add(uint8_t* img, int height, int width, int channels, int add, int threshold) {
    std::array<uint8_t, 256> lut;
    for (int i = 0; i < 256; ++i) lut[size_t(i)] = static_cast<uint8_t>(i < threshold ? std::min(255, i + add) : i);
    apply_lut(img, height, width, channels, lut);
}

void auto_contrast(uint8_t* img, int height, int width, int channels) {
    const auto h = histograms(img, height, width, channels);
    std::vector<std::array<uint8_t, 256>> luts(static_cast<size_t>(channels));
    for (int c = 0; c < channels; ++c) {
        const auto& hc = h[size_t(c)];
        int lo = 0, hi = 255;
        while (lo < 256 && hc[size_t(lo)] == 0) ++lo;
        while (hi >= 0 && hc[size_t(hi)] == 0) --hi;
        auto& lut = luts[size_t(c)];
        if (hi <= lo) {
            for (int i = 0; i < 256; ++i) lut[size_t(i)] = static_cast<uint8_t>(i);
            continue;
        }
        // ix = int(ix * scale + offset) with scale = 255 / (hi - lo), offset = -lo * scale, clipped.
        const double scale = 255.0 / (hi - lo), offset = -lo * scale;
        for (int i = 0; i < 256; ++i)
            lut[size_t(i)] = static_cast<uint8_t>(std::clamp(static_cast<int>(i * scale + offset), 0, 255));
    }
    apply_luts(img, height, width, channels, luts);
}

void equalize(uint8_t* img, int height, int width, int channels) {
    const auto h = histograms(img, height, width, channels);
    std::vector<std::array<uint8_t, 256>> luts(static_cast<size_t>(channels));
    for (int c = 0; c < channels; ++c) {
        const auto& hc = h[size_t(c)];
        auto& lut = luts[size_t(c)];
        for (int i = 0; i < 256; ++i) lut[size_t(i)] = static_cast<uint8_t>(i);
        // step = (sum of the non-empty bins but the last one) // 256; lut[i] = (step // 2 + counts below i) // step.
        int64_t total = 0, last = 0, used = 0;
        for (int i = 0; i < 256; ++i)
            if (hc[size_t(i)]) {
                total += hc[size_t(i)];
                last = hc[size_t(i)];
                ++used;
            }
        if (used <= 1) continue;
        const int64_t step = (total - last) / 256;
        if (step == 0) continue;
        int64_t n = step / 2;
        for (int i = 0; i < 256; ++i) {
            lut[size_t(i)] = static_cast<uint8_t>(std::min<int64_t>(255, n / step));
            n += hc[size_t(i)];
        }
    }
    apply_luts(img, height, width, channels, luts);
}

void enhance_color(uint8_t* img, int height, int width, int channels, float factor) {
    if (channels != 3) return;  // a grey image is its own grey version: blending changes nothing
    const size_t n = pixels(height, width);
    std::vector<uint8_t> grey(n * 3);
    for (size_t i = 0; i < n; ++i) std::fill_n(grey.begin() + long(i * 3), 3, pil_luma(img[3 * i], img[3 * i + 1], img[3 * i + 2]));
    blend_with(img, grey.data(), n * 3, factor);
}

void enhance_contrast(uint8_t* img, int height, int width, int channels, float factor) {
    // int(ImageStat.Stat(image.convert("L")).mean[0] + 0.5).
    const size_t n = pixels(height, width);
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += channels == 3 ? pil_luma(img[3 * i], img[3 * i + 1], img[3 * i + 2]) : img[i * channels];
    const uint8_t mean = static_cast<uint8_t>(static_cast<int>(sum / double(n) + 0.5));
    const std::vector<uint8_t> flat(n * channels, mean);
    blend_with(img, flat.data(), n * channels, factor);
}

void enhance_brightness(uint8_t* img, int height, int width, int channels, float factor) {
    const size_t n = pixels(height, width) * channels;
    const std::vector<uint8_t> black(n, 0);
    blend_with(img, black.data(), n, factor);
}

void enhance_sharpness(uint8_t* img, int height, int width, int channels, float factor) {
    // PIL's filter3x3 with the kernel divided by its scale: the border rows and columns are copied,
    // inner pixels are 0.5 + the rows y+1, y, y-1 (each three taps), truncated and clipped.
    const int H = height, W = width, C = channels;
    std::vector<uint8_t> smooth(img, img + pixels(H, W) * C);
    const float k[9] = {1 / 13.0f, 1 / 13.0f, 1 / 13.0f, 1 / 13.0f, 5 / 13.0f, 1 / 13.0f, 1 / 13.0f, 1 / 13.0f, 1 / 13.0f};
    auto px = [&](int y, int x, int c) { return static_cast<float>(img[(size_t(y) * W + x) * C + c]); };
    auto row = [&](int y, int x, int c, const float* kr) {
        return px(y, x - 1, c) * kr[0] + px(y, x, c) * kr[1] + px(y, x + 1, c) * kr[2];
    };
    for (int y = 1; y < H - 1; ++y)
        for (int x = 1; x < W - 1; ++x)
            for (int c = 0; c < C; ++c) {
                float ss = 0.5f;
                ss += row(y + 1, x, c, k);
                ss += row(y, x, c, k + 3);
                ss += row(y - 1, x, c, k + 6);
                smooth[(size_t(y) * W + x) * C + c] = ss <= 0.0f ? 0 : ss >= 255.0f ? 255 : static_cast<uint8_t>(ss);
            }
    blend_with(img, smooth.data(), pixels(H, W) * C, factor);
}

}  // namespace vit
