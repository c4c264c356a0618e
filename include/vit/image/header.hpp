// Image dimensions read from a file's header, without decoding, so that an image declaring an absurd
// size (a "decompression bomb": a 1 MB PNG of 20000x20000 pixels decodes to 1.2 GB) is refused before
// the decoder allocates anything.
//
// The formats are those vit reads (extensions.hpp): JPEG (the first SOF marker), PNG (IHDR), BMP (the
// DIB header), TIFF and BigTIFF (the first IFD, the page OpenCV decodes), WebP (VP8, VP8L and VP8X
// chunks) and Netpbm (P1 to P7). Bytes that start like none of them are not decoded at all: OpenCV would
// try more formats, but their sizes are not checked here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vit/util/error.hpp"

namespace vit {

// PIL's policy: Image.MAX_IMAGE_PIXELS = int(1024 * 1024 * 1024 // 4 // 3) = 89,478,485 gives a
// DecompressionBombWarning above it and a DecompressionBombError above twice it. We refuse where PIL
// refuses: above 2 * 89,478,485 = 178,956,970 pixels (about 0.5 GB as 8-bit RGB).
inline constexpr uint64_t kPilWarnImagePixels = 89'478'485;
inline constexpr uint64_t kDefaultMaxImagePixels = 2 * kPilWarnImagePixels;

// Limits applied to every image before it is decoded.
struct ImageLimits {
    uint64_t max_pixels = kDefaultMaxImagePixels;  // width * height; images above it are refused

    // Throws ConfigError naming the field when max_pixels is 0 (it would refuse every image).
    void validate() const;
};

struct ImageHeader {
    const char* format = "";  // "JPEG", "PNG", ...
    uint64_t width = 0, height = 0;
    // width * height, saturated at UINT64_MAX (a BigTIFF may declare 64-bit sides).
    uint64_t pixels() const;
};

// An image whose header declares more pixels than ImageLimits::max_pixels allows.
struct ImageTooLargeError : ImageError {
    using ImageError::ImageError;
};

// The format and size the bytes declare; nullopt when they start like none of the formats above, or the
// header is cut short or inconsistent (an IFD offset past the end, a JPEG segment running off the end).
std::optional<ImageHeader> read_image_header(const unsigned char* data, size_t size);

// Throws ImageError naming `name` when the header cannot be read, ImageTooLargeError (naming the file,
// its width x height and the limit) when it declares more pixels than limits allow; returns the header.
ImageHeader check_image_header(const std::vector<unsigned char>& bytes, const ImageLimits& limits,
                               const std::string& name);

}  // namespace vit
