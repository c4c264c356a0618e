#include "vit/checkpoint.hpp"

#include <algorithm>
#include <cmath>

#include "checkpoint/formats.hpp"
#include "vit/error.hpp"
#include "vit/safetensors.hpp"

namespace vit {

using namespace detail;

namespace {

Checkpoint load_with_config(const fs::path& cfg_path, TensorMap weights, const std::string& weights_file) {
    const json cfg = read_json_file(cfg_path);
    return is_hf_config(cfg) ? load_hf(cfg, cfg_path, std::move(weights), weights_file)
                             : load_timm(cfg, cfg_path, std::move(weights));
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
    if (ck.labels.empty())
        for (int i = 0; i < ck.config.num_classes; ++i) ck.labels.push_back("class_" + std::to_string(i));
    if (ck.labels.size() != static_cast<size_t>(ck.config.num_classes))
        config_error(ck.source, std::to_string(ck.labels.size()) + " labels for " +
                                    std::to_string(ck.config.num_classes) + " classes");
}

Checkpoint load_checkpoint(const std::string& path) {
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) throw IoError("no such file or directory: " + path);
    Checkpoint ck;
    if (fs::is_directory(p, ec)) {
        const fs::path model = p / "model.safetensors";
        const fs::path cfg = p / "config.json";
        if (!fs::exists(model, ec)) throw IoError(path + ": expected model file " + model.string());
        SafeTensors st = read_safetensors(model.string());
        if (is_native(st)) {
            ck = load_native(std::move(st), model.string());
        } else {
            if (!fs::exists(cfg, ec)) throw IoError(path + ": expected configuration file " + cfg.string());
            ck = load_with_config(cfg, std::move(st.tensors), model.string());
        }
    } else {
        SafeTensors st = read_safetensors(path);
        if (is_native(st)) {
            ck = load_native(std::move(st), path);
        } else {
            const fs::path cfg = p.parent_path().empty() ? fs::path("config.json") : p.parent_path() / "config.json";
            if (!fs::exists(cfg, ec))
                throw FormatError(path + ": the model configuration is missing (no 'vit.config' metadata and no " +
                                  cfg.string() + ")");
            ck = load_with_config(cfg, std::move(st.tensors), path);
        }
    }
    ck.source = path;
    validate_checkpoint(ck);
    return ck;
}

// Cubic convolution kernel of Keys with A = -0.75 (PyTorch's choice), split as PyTorch does:
// cc1 for |x| <= 1 and cc2 for 1 < |x| < 2.
static float cc1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static float cc2(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

std::vector<float> resample_grid_bicubic(const float* src, int gh, int gw, int channels, int nh, int nw) {
    if (gh <= 0 || gw <= 0 || nh <= 0 || nw <= 0 || channels <= 0)
        throw ConfigError("resample_grid_bicubic: sizes must be positive");
    constexpr float A = -0.75f;
    // For one axis: output index d maps to source coordinate (d + 0.5) * in/out - 0.5 (align_corners
    // false; not clamped at 0 for cubic). Its 4 taps are floor(x)-1 .. floor(x)+2, clamped to the
    // border, weighted by the kernel at distances t+1, t, 1-t, 2-t (t = x - floor(x)).
    struct Taps {
        int idx[4];
        float w[4];
    };
    auto taps = [&](int in, int out) {
        std::vector<Taps> r(static_cast<size_t>(out));
        const float scale = static_cast<float>(in) / static_cast<float>(out);
        for (int d = 0; d < out; ++d) {
            const float x = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
            const float f = std::floor(x);
            const float t = x - f;
            const int i0 = static_cast<int>(f);
            Taps& tp = r[static_cast<size_t>(d)];
            tp.w[0] = cc2(t + 1, A);
            tp.w[1] = cc1(t, A);
            tp.w[2] = cc1(1 - t, A);
            tp.w[3] = cc2(2 - t, A);
            for (int k = 0; k < 4; ++k) tp.idx[k] = std::min(std::max(i0 - 1 + k, 0), in - 1);
        }
        return r;
    };
    const std::vector<Taps> ty = taps(gh, nh), tx = taps(gw, nw);
    std::vector<float> out(static_cast<size_t>(nh) * nw * channels);
    // The grid is stored token-major: element (y, x, c) at (y * w + x) * channels + c. As PyTorch does,
    // interpolate each of the 4 source rows along x, then combine the rows along y.
    for (int oy = 0; oy < nh; ++oy)
        for (int ox = 0; ox < nw; ++ox) {
            const Taps& a = ty[static_cast<size_t>(oy)];
            const Taps& b = tx[static_cast<size_t>(ox)];
            float* o = &out[(static_cast<size_t>(oy) * nw + ox) * channels];
            for (int c = 0; c < channels; ++c) {
                float rows[4];
                for (int r = 0; r < 4; ++r) {
                    const float* row = src + static_cast<size_t>(a.idx[r]) * gw * channels + c;
                    rows[r] = row[static_cast<size_t>(b.idx[0]) * channels] * b.w[0] +
                              row[static_cast<size_t>(b.idx[1]) * channels] * b.w[1] +
                              row[static_cast<size_t>(b.idx[2]) * channels] * b.w[2] +
                              row[static_cast<size_t>(b.idx[3]) * channels] * b.w[3];
                }
                o[c] = rows[0] * a.w[0] + rows[1] * a.w[1] + rows[2] * a.w[2] + rows[3] * a.w[3];
            }
        }
    return out;
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
    // Prefix rows (class, distillation and register tokens, unless no_embed_class leaves them out) are
    // copied; only the patch grid is resampled.
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
