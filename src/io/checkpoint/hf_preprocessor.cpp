// preprocessor_config.json of a Hugging Face folder: the image processor's resize, crop and
// normalisation as a PreprocessConfig.
#include <cmath>

#include "io/checkpoint/hf.hpp"
#include "vit/util/error.hpp"
#include "vit/image/preprocess.hpp"

namespace vit::detail {

namespace {

// A processor size: an int (square), {"height", "width"}, or {"shortest_edge"} (then h = w = the edge and
// `shortest` is set).
void read_hf_size(const json& j, const char* key, int& h, int& w, bool& shortest, const std::string& src) {
    auto s = j.find(key);
    if (s == j.end() || s->is_null()) return;
    shortest = false;
    if (s->is_number_integer()) {
        h = w = get_int(j, key, h, src);
    } else if (s->is_object() && s->contains("height") && s->contains("width")) {
        h = get_int(*s, "height", h, src);
        w = get_int(*s, "width", w, src);
    } else if (s->is_object() && s->contains("shortest_edge")) {
        h = w = get_int(*s, "shortest_edge", h, src);
        shortest = true;
    } else {
        config_error(src, std::string("'") + key + "' must hold height and width or shortest_edge");
    }
    if (h <= 0 || w <= 0) config_error(src, std::string("'") + key + "' must be positive");
}

// The crop_pct that the resize computes back to (rh, rw) exactly: preprocess() resizes each side to
// floor(crop / crop_pct), and crop / (crop / resize) can land one ulp below `resize` in floating point.
double crop_fraction(int ch, int cw, int rh, int rw) {
    double pct = static_cast<double>(ch) / rh;
    while (std::floor(ch / pct) < rh || std::floor(cw / pct) < rw) pct = std::nextafter(pct, 0.0);
    return pct;
}

}  // namespace

PreprocessConfig read_hf_preprocessor(const fs::path& cfg_path, const ViTConfig& c) {
    // ViTImageProcessor's defaults (direct resize, bilinear, mean/std 0.5) at the model's own size.
    PreprocessConfig p;
    p.channels = c.in_chans;
    p.height = c.img_h;
    p.width = c.img_w;
    p.resize_mode = ResizeMode::Direct;
    p.interpolation = Interpolation::Bilinear;
    p.crop_pct = 1.0;
    p.mean.assign(static_cast<size_t>(std::max(c.in_chans, 0)), 0.5f);
    p.std = p.mean;
    const fs::path pp = cfg_path.parent_path() / "preprocessor_config.json";
    if (!fs::exists(pp)) return p;
    const json pj = read_json_file(pp);
    const std::string src = pp.string();

    // Resize to `size`, then, with do_center_crop, crop `crop_size` from the centre:
    //   ViTImageProcessor   size {height, width}, no crop: a direct resize;
    //   DeiTImageProcessor  size {256, 256}, crop 224: a direct resize to 256x256, then the crop, which is
//                       timm's crop_mode squash with crop_pct = 224 / 256;
    //   BitImageProcessor   size {shortest_edge: 256}, crop 224 (DINOv2): the shorter side to 256 keeping
    //                       the aspect ratio, then the crop, which is timm's eval transform with
    //                       crop_pct = 224 / 256.
    // (Transformers' crop offset is floor((size - crop) / 2), ours rounds half to even as timm does: they
    // differ by a pixel only where size - crop is odd.)
    int h = p.height, w = p.width;
    bool shortest = false;
    read_hf_size(pj, "size", h, w, shortest, src);
    if (get_bool(pj, "do_center_crop", false, src)) {
        int ch = h, cw = w;
        bool crop_shortest = false;
        read_hf_size(pj, "crop_size", ch, cw, crop_shortest, src);
        if (crop_shortest) config_error(src, "'crop_size' must be a size, not a shortest edge");
        p.height = ch;
        p.width = cw;
        if (shortest) {
            if (ch != cw) config_error(src, "a crop after a shortest-edge resize must be square");
            p.resize_mode = ResizeMode::ShorterSideCrop;
            p.crop_pct = crop_fraction(ch, cw, h, w);
        } else {
            // One crop fraction for both sides: the resize must be the crop scaled alike on both.
            if (static_cast<int64_t>(ch) * w != static_cast<int64_t>(cw) * h)
                config_error(src, "crop_size " + std::to_string(ch) + "x" + std::to_string(cw) +
                                      " is not size " + std::to_string(h) + "x" + std::to_string(w) +
                                      " scaled alike on both sides");
            // Both sides straight to size, then the crop: timm's squash with crop_pct = crop / size.
            p.resize_mode = ResizeMode::Squash;
            p.crop_pct = crop_fraction(ch, cw, h, w);
        }
    } else {
        // A shortest edge without a crop keeps HF's non-square result only for square images; the model
        // takes squares, so the edge is used as both sides.
        p.height = h;
        p.width = w;
    }
    // PIL resampling codes: 2 = BILINEAR, 3 = BICUBIC.
    const int resample = get_int(pj, "resample", 2, src);
    if (resample == 2) p.interpolation = Interpolation::Bilinear;
    else if (resample == 3) p.interpolation = Interpolation::Bicubic;
    else config_error(src, "unsupported resample " + std::to_string(resample) + " (2 bilinear or 3 bicubic)");
    if (!get_bool(pj, "do_rescale", true, src)) config_error(src, "do_rescale=false is not supported");
    const double rescale = get_num(pj, "rescale_factor", 1.0 / 255.0, src);
    if (std::abs(rescale * 255.0 - 1.0) > 1e-6) config_error(src, "only rescale_factor 1/255 is supported");
    if (get_bool(pj, "do_normalize", true, src)) {
        p.mean = get_floats(pj, "image_mean", p.mean, src);
        p.std = get_floats(pj, "image_std", p.std, src);
    } else {  // no normalisation: identity mean/std
        p.mean.assign(p.mean.size(), 0.0f);
        p.std.assign(p.std.size(), 1.0f);
    }
    // do_resize=false cannot be expressed; images must then already be the model's size, where a direct
    // resize is the identity, so the default is kept.
    return p;
}

}  // namespace vit::detail
