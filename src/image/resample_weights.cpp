#include "image/resample_weights.hpp"

#include <cmath>

namespace vit::detail {

namespace {

// Keys' cubic convolution kernel with a = -0.5.
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

}  // namespace

// Output sample i has its centre at (i + 0.5) * scale in input coordinates (scale = in / out, the
// align_corners=False convention). When downscaling (scale > 1) the kernel is stretched by `scale`,
// in support and argument, which makes it an antialiasing low-pass filter; when upscaling it is the
// plain interpolation kernel. Taps outside [0, in_size) are dropped rather than clamped, and the
// weights are divided by their sum so that flat areas stay flat at the borders.
ResampleWeights antialias_weights(int in_size, int out_size, Interpolation interp) {
    double (*filter)(double) = interp == Interpolation::Bicubic ? bicubic_filter : bilinear_filter;
    const double filter_support = interp == Interpolation::Bicubic ? 2.0 : 1.0;

    // Pillow computes in1 - in0 in float before widening; exact for any realistic size.
    const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = filter_support * filterscale;

    ResampleWeights r;
    r.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    r.first.resize(static_cast<size_t>(out_size));
    r.count.resize(static_cast<size_t>(out_size));
    r.w.assign(static_cast<size_t>(out_size) * r.ksize, 0.0);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        // Pillow's "(int)(v + 0.5)" rounding (truncation toward zero), kept bit-exact.
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double* w = &r.w[static_cast<size_t>(xx) * r.ksize];
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            // Distance from the output centre to the centre (x + xmin + 0.5) of input sample x.
            w[x] = filter((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        if (ww != 0.0)
            for (int x = 0; x < xmax; ++x) w[x] /= ww;
        r.first[static_cast<size_t>(xx)] = xmin;
        r.count[static_cast<size_t>(xx)] = xmax;
    }
    return r;
}

}  // namespace vit::detail
