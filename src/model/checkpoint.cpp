#include "vit/model/checkpoint.hpp"

#include <algorithm>
#include <cmath>

#include "image/resample_weights.hpp"
#include "vit/model/imagenet_labels.hpp"
#include "vit/util/error.hpp"

namespace vit {

using detail::antialias_weights;
using detail::ResampleWeights;

namespace {
[[noreturn]] void config_error(const std::string& source, const std::string& what) {
    throw ConfigError(source + ": " + what);
}
}  // namespace

void validate_checkpoint(Checkpoint& ck) {
    try {
        ck.config.validate();
        ck.preprocess.validate();
    } catch (const ConfigError& e) {
        config_error(ck.source, e.what());
    }
    if (ck.preprocess.channels != ck.config.in_chans)
        config_error(ck.source, "preprocessing has " + std::to_string(ck.preprocess.channels) +
                                    " channels but the model takes " + std::to_string(ck.config.in_chans));
    if (ck.preprocess.height != ck.config.img_h || ck.preprocess.width != ck.config.img_w)
        config_error(ck.source, "preprocessing size " + std::to_string(ck.preprocess.height) + "x" +
                                    std::to_string(ck.preprocess.width) + " differs from the model's image size " +
                                    std::to_string(ck.config.img_h) + "x" + std::to_string(ck.config.img_w));
    if (ck.labels.empty()) ck.labels = default_labels(ck.config.num_classes);
    if (ck.labels.size() != static_cast<size_t>(ck.config.num_classes))
        config_error(ck.source, std::to_string(ck.labels.size()) + " labels for " +
                                    std::to_string(ck.config.num_classes) + " classes");
}

std::vector<float> resample_grid_bicubic(const float* src, int gh, int gw, int channels, int nh, int nw) {
    if (gh <= 0 || gw <= 0 || nh <= 0 || nw <= 0 || channels <= 0)
        throw ConfigError("resample_grid_bicubic: sizes must be positive");
    // timm resamples with F.interpolate(mode="bicubic", antialias=True): PyTorch's separable
    // antialiased kernel, the same weights as Pillow's resampler (resample_weights.hpp) kept in float.
    // When upscaling this is Keys' cubic with a = -0.5 over the 4 nearest samples, taps beyond the
    // border dropped and the rest renormalised; when downscaling the kernel widens with the factor and
    // averages over it, where antialias=False would alias. As PyTorch, the width is resampled first,
    // then the height; an axis whose size does not change is left as it is.
    // The grid is stored token-major: element (y, x, c) at (y * w + x) * channels + c.
    const size_t C = static_cast<size_t>(channels);
    std::vector<float> cur(src, src + static_cast<size_t>(gh) * gw * C);
    if (nw != gw) {
        const ResampleWeights wx = antialias_weights(gw, nw, Interpolation::Bicubic);
        std::vector<float> next(static_cast<size_t>(gh) * nw * C);
        for (int y = 0; y < gh; ++y)
            for (int ox = 0; ox < nw; ++ox) {
                const double* w = &wx.w[static_cast<size_t>(ox) * wx.ksize];
                const float* in = &cur[(static_cast<size_t>(y) * gw + wx.first[static_cast<size_t>(ox)]) * C];
                float* o = &next[(static_cast<size_t>(y) * nw + ox) * C];
                for (size_t c = 0; c < C; ++c) {
                    float acc = 0.0f;
                    for (int j = 0; j < wx.count[static_cast<size_t>(ox)]; ++j)
                        acc += in[static_cast<size_t>(j) * C + c] * static_cast<float>(w[j]);
                    o[c] = acc;
                }
            }
        cur = std::move(next);
    }
    if (nh != gh) {
        const ResampleWeights wy = antialias_weights(gh, nh, Interpolation::Bicubic);
        const size_t row = static_cast<size_t>(nw) * C;
        std::vector<float> next(static_cast<size_t>(nh) * row, 0.0f);
        for (int oy = 0; oy < nh; ++oy) {
            const double* w = &wy.w[static_cast<size_t>(oy) * wy.ksize];
            float* o = &next[static_cast<size_t>(oy) * row];
            for (int j = 0; j < wy.count[static_cast<size_t>(oy)]; ++j) {
                const float* in = &cur[static_cast<size_t>(wy.first[static_cast<size_t>(oy)] + j) * row];
                const float wj = static_cast<float>(w[j]);
                for (size_t i = 0; i < row; ++i) o[i] += in[i] * wj;
            }
        }
        cur = std::move(next);
    }
    return cur;
}

void set_image_size(Checkpoint& ck, int img_h, int img_w) {
    ViTConfig c = ck.config;
    if (img_h <= 0 || img_w <= 0 || img_h % c.patch_size != 0 || img_w % c.patch_size != 0)
        throw ConfigError("image size " + std::to_string(img_h) + "x" + std::to_string(img_w) +
                          " is not a positive multiple of the patch size " + std::to_string(c.patch_size));
    auto it = ck.weights.find("pos_embed");
    if (it == ck.weights.end()) throw ShapeError(ck.source + ": missing tensor 'pos_embed'");
    Tensor& pe = it->second;
    const Shape want{1, c.pos_tokens(), c.embed_dim};
    if (pe.shape != want)
        throw ShapeError(ck.source + ": tensor 'pos_embed' has shape " + shape_str(pe.shape) + ", expected " +
                         shape_str(want));
    c.img_h = img_h;
    c.img_w = img_w;
    // As timm's set_input_size / resample_abs_pos_embed: the prefix rows (class, distillation and
    // register tokens) are copied, unless no_embed_class leaves them out of pos_embed altogether
    // (pos_tokens() == num_patches()); only the patch grid is resampled. (timm skips the resampling
    // when the new grid has as many patches as the old one, e.g. 6x6 -> 4x9, which would reuse the
    // 6x6 grid's rows in 4x9 order; we resample whenever the grid's shape changes.)
    const size_t prefix = static_cast<size_t>(c.pos_tokens() - c.num_patches()) * c.embed_dim;
    std::vector<float> grid = resample_grid_bicubic(pe.ptr() + prefix, ck.config.grid_h(), ck.config.grid_w(),
                                                    c.embed_dim, c.grid_h(), c.grid_w());
    std::vector<float> data(pe.data.begin(), pe.data.begin() + static_cast<std::ptrdiff_t>(prefix));
    data.insert(data.end(), grid.begin(), grid.end());
    pe = Tensor({1, c.pos_tokens(), c.embed_dim}, std::move(data));
    ck.config = c;
    ck.preprocess.height = img_h;
    ck.preprocess.width = img_w;
}

}  // namespace vit
