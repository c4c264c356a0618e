// Fuzz target: image decoding and preprocessing. The first four bytes choose the preprocessing (byte 0
// bit 0: 3 channels rather than 1; byte 1: resize mode in bits 0-1, bilinear rather than bicubic in bit 2,
// crop_pct = 0.5 + (bits 3-7) / 16; bytes 2 and 3: output height and width, 1 to 64), the rest is the
// image file, decoded by OpenCV as any image file is. With mean = std = 0.5 every output value must lie
// in [-1, 1].
//
// Decoding allocates what the image's header claims, and resampling a large image takes seconds under
// the sanitizers (a JPEG of 32x64031 pixels, 879 bytes, took 11 s in the first campaign): scripts/fuzz.sh
// and the replay test set OPENCV_IO_MAX_IMAGE_PIXELS (read by OpenCV when it loads) so that OpenCV
// refuses images above 1 Mpixel before allocating them, and images of more than kMaxPixels decoded
// pixels are not preprocessed. The fuzzer's time goes into the decoders' and resampler's branches.
#include <cmath>
#include <vector>

#include "fuzz_target.hpp"
#include "vit/image/preprocess.hpp"
#include "image/cv_image.hpp"

namespace {

constexpr size_t kMaxPixels = size_t(1024) * 1024;

}  // namespace

VIT_FUZZ_TARGET(image) {
    using namespace vit;
    if (size < 4) return;
    PreprocessConfig p;
    p.channels = data[0] & 1 ? 3 : 1;
    p.resize_mode = static_cast<ResizeMode>(data[1] & 3);
    p.interpolation = data[1] & 4 ? Interpolation::Bilinear : Interpolation::Bicubic;
    p.crop_pct = 0.5 + (data[1] >> 3) / 16.0;
    p.height = 1 + data[2] % 64;
    p.width = 1 + data[3] % 64;
    p.mean.assign(size_t(p.channels), 0.5f);
    p.std = p.mean;
    p.validate();
    const std::vector<unsigned char> bytes(data + 4, data + size);
    vit::fuzz::expect_typed_errors([&] {
        const cv::Mat image = decode_image(bytes, p.channels, "fuzz image");
        if (image.total() > kMaxPixels) return;
        std::vector<float> out(size_t(p.channels) * size_t(p.height) * size_t(p.width));
        preprocess(image, p, out.data());
        for (float v : out)
            if (!(std::fabs(v) <= 1.0f + 1e-5f)) vit::fuzz::invariant_failed("a preprocessed value is outside [-1, 1]");
    });
}
