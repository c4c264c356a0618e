// Image sizes from file headers. Every read is bounds-checked against the bytes given: a header that
// is cut short, or whose offsets point outside the file, is "unreadable" (nullopt), never a crash.
#include "vit/image/header.hpp"

#include <cstring>
#include <limits>

namespace vit {
namespace {

struct Bytes {
    const unsigned char* p;
    size_t n;

    bool has(uint64_t pos, uint64_t len) const { return pos <= n && len <= n - pos; }
    bool starts_with(const char* magic, size_t len) const { return has(0, len) && std::memcmp(p, magic, len) == 0; }
    // The unsigned integer of `len` (1 to 8) bytes at pos, in big- or little-endian order; has(pos, len)
    // must hold.
    uint64_t uint(uint64_t pos, int len, bool big_endian) const {
        uint64_t v = 0;
        for (int i = 0; i < len; ++i) {
            const uint64_t byte = p[pos + static_cast<uint64_t>(big_endian ? i : len - 1 - i)];
            v = (v << 8) | byte;
        }
        return v;
    }
};

// PNG: the 8-byte signature, then the IHDR chunk (length, "IHDR", width, height, ...), big-endian.
std::optional<ImageHeader> png(const Bytes& b) {
    if (!b.has(0, 24) || std::memcmp(b.p + 12, "IHDR", 4) != 0) return std::nullopt;
    return ImageHeader{"PNG", b.uint(16, 4, true), b.uint(20, 4, true)};
}

// JPEG: after SOI (FF D8), marker segments until the first frame header (SOFn), whose payload is the
// sample precision (1 byte), then height and width (2 bytes each, big-endian): the frame libjpeg decodes.
std::optional<ImageHeader> jpeg(const Bytes& b) {
    uint64_t pos = 2;
    for (;;) {
        if (!b.has(pos, 2) || b.p[pos] != 0xFF) return std::nullopt;
        while (b.has(pos + 1, 1) && b.p[pos + 1] == 0xFF) ++pos;  // fill bytes before a marker
        if (!b.has(pos, 2)) return std::nullopt;
        const unsigned marker = b.p[pos + 1];
        pos += 2;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // TEM, RSTn: no payload
        if (marker == 0xD9 || marker == 0xDA) return std::nullopt;            // EOI or scan before any frame
        if (!b.has(pos, 2)) return std::nullopt;
        const uint64_t length = b.uint(pos, 2, true);  // counts its own two bytes
        if (length < 2) return std::nullopt;
        // SOF0..SOF15 are C0..CF except DHT (C4), JPG (C8) and DAC (CC).
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            if (length < 7 || !b.has(pos, 7)) return std::nullopt;
            return ImageHeader{"JPEG", b.uint(pos + 5, 2, true), b.uint(pos + 3, 2, true)};
        }
        pos += length;
    }
}

// |v| of a 32-bit two's complement value (BMP heights are negative for top-down rows).
uint64_t magnitude32(uint64_t v) { return v & 0x80000000u ? 0x100000000u - v : v; }

// BMP: the 14-byte file header, then the DIB header: its size (4 bytes), then width and height, as
// unsigned 16-bit in the old BITMAPCOREHEADER (size 12) and signed 32-bit in all later ones.
std::optional<ImageHeader> bmp(const Bytes& b) {
    if (!b.has(14, 4)) return std::nullopt;
    if (b.uint(14, 4, false) == 12) {
        if (!b.has(18, 4)) return std::nullopt;
        return ImageHeader{"BMP", b.uint(18, 2, false), b.uint(20, 2, false)};
    }
    if (!b.has(18, 8)) return std::nullopt;
    return ImageHeader{"BMP", magnitude32(b.uint(18, 4, false)), magnitude32(b.uint(22, 4, false))};
}

// TIFF: byte order ("II" little, "MM" big), then the offset of the first IFD (4 bytes; 8 in BigTIFF),
// a list of (tag, type, count, value) entries; ImageWidth is tag 256 and ImageLength tag 257, stored as
// SHORT, LONG or (BigTIFF) LONG8 in the entry's value field.
std::optional<ImageHeader> tiff(const Bytes& b, bool big_tiff) {
    const bool be = b.p[0] == 'M';
    const int offset_size = big_tiff ? 8 : 4, count_size = big_tiff ? 8 : 2, entry_size = big_tiff ? 20 : 12;
    const uint64_t ifd_at = big_tiff ? 8 : 4;
    if (!b.has(ifd_at, static_cast<uint64_t>(offset_size))) return std::nullopt;
    const uint64_t ifd = b.uint(ifd_at, offset_size, be);
    if (!b.has(ifd, static_cast<uint64_t>(count_size))) return std::nullopt;
    const uint64_t entries = b.uint(ifd, count_size, be);
    std::optional<uint64_t> width, height;
    for (uint64_t i = 0; i < entries && !(width && height); ++i) {
        const uint64_t e = ifd + static_cast<uint64_t>(count_size) + i * static_cast<uint64_t>(entry_size);
        if (!b.has(e, static_cast<uint64_t>(entry_size))) return std::nullopt;
        const uint64_t tag = b.uint(e, 2, be), type = b.uint(e + 2, 2, be);
        const int value_size = type == 3 ? 2 : type == 4 ? 4 : type == 16 ? 8 : 0;
        if ((tag != 256 && tag != 257) || value_size == 0) continue;
        const uint64_t value = b.uint(e + 4 + static_cast<uint64_t>(offset_size), value_size, be);
        (tag == 256 ? width : height) = value;
    }
    if (!width || !height) return std::nullopt;
    return ImageHeader{"TIFF", *width, *height};
}

// WebP: a RIFF container ("RIFF", size, "WEBP") whose first chunk (fourcc, size, payload at byte 20) is
//   "VP8 "  lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height (little-endian);
//   "VP8L"  lossless: signature 2F, then width - 1 and height - 1 in the low 28 bits (14 each);
//   "VP8X"  extended: flags and reserved (4 bytes), then canvas width - 1 and height - 1 (24 bits each).
std::optional<ImageHeader> webp(const Bytes& b) {
    if (!b.has(0, 20)) return std::nullopt;
    const uint64_t d = 20;
    if (std::memcmp(b.p + 12, "VP8 ", 4) == 0) {
        if (!b.has(d, 10) || b.p[d + 3] != 0x9D || b.p[d + 4] != 0x01 || b.p[d + 5] != 0x2A) return std::nullopt;
        return ImageHeader{"WebP", b.uint(d + 6, 2, false) & 0x3FFF, b.uint(d + 8, 2, false) & 0x3FFF};
    }
    if (std::memcmp(b.p + 12, "VP8L", 4) == 0) {
        if (!b.has(d, 5) || b.p[d] != 0x2F) return std::nullopt;
        const uint64_t bits = b.uint(d + 1, 4, false);
        return ImageHeader{"WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
    }
    if (std::memcmp(b.p + 12, "VP8X", 4) == 0) {
        if (!b.has(d, 10)) return std::nullopt;
        return ImageHeader{"WebP", b.uint(d + 4, 3, false) + 1, b.uint(d + 7, 3, false) + 1};
    }
    return std::nullopt;
}

// Netpbm: "P1".."P6" then width and height as decimal tokens; "P7" (PAM) has "WIDTH n" and "HEIGHT n"
// lines before "ENDHDR". Tokens are separated by white space; '#' starts a comment to the end of the line.
std::optional<ImageHeader> netpbm(const Bytes& b) {
    uint64_t pos = 2;
    auto space = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
    auto next_token = [&]() -> std::string {
        for (;;) {
            while (b.has(pos, 1) && space(b.p[pos])) ++pos;
            if (!b.has(pos, 1) || b.p[pos] != '#') break;
            while (b.has(pos, 1) && b.p[pos] != '\n') ++pos;
        }
        std::string token;
        // Tokens are cut at 32 bytes (numbers and PAM keywords are shorter), which bounds the work on garbage.
        while (b.has(pos, 1) && !space(b.p[pos]) && b.p[pos] != '#' && token.size() < 32)
            token += static_cast<char>(b.p[pos++]);
        // Every header token is followed by white space: one that runs to the end of the bytes may be cut.
        return b.has(pos, 1) ? token : std::string();
    };
    auto number = [](const std::string& t) -> std::optional<uint64_t> {
        if (t.empty() || t.size() > 19) return std::nullopt;  // 19 digits fit in 64 bits
        uint64_t v = 0;
        for (char c : t) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        return v;
    };
    if (b.p[1] != '7') {
        const auto w = number(next_token()), h = number(next_token());
        if (!w || !h) return std::nullopt;
        return ImageHeader{"Netpbm", *w, *h};
    }
    std::optional<uint64_t> width, height;
    for (std::string t = next_token(); !t.empty() && t != "ENDHDR"; t = next_token()) {
        if (t == "WIDTH") width = number(next_token());
        if (t == "HEIGHT") height = number(next_token());
    }
    if (!width || !height) return std::nullopt;
    return ImageHeader{"Netpbm", *width, *height};
}

}  // namespace

void ImageLimits::validate() const {
    if (max_pixels == 0) throw ConfigError("max_pixels must be positive, got 0");
}

uint64_t ImageHeader::pixels() const {
    if (width != 0 && height > std::numeric_limits<uint64_t>::max() / width) return std::numeric_limits<uint64_t>::max();
    return width * height;
}

std::optional<ImageHeader> read_image_header(const unsigned char* data, size_t size) {
    const Bytes b{data, size};
    if (b.starts_with("\x89PNG\r\n\x1a\n", 8)) return png(b);
    if (b.starts_with("\xFF\xD8", 2)) return jpeg(b);
    if (b.starts_with("BM", 2)) return bmp(b);
    if (b.starts_with("II*\0", 4) || b.starts_with("MM\0*", 4)) return tiff(b, false);
    if (b.starts_with("II+\0", 4) || b.starts_with("MM\0+", 4)) return tiff(b, true);
    if (b.starts_with("RIFF", 4) && b.has(8, 4) && std::memcmp(b.p + 8, "WEBP", 4) == 0) return webp(b);
    if (b.has(0, 2) && b.p[0] == 'P' && b.p[1] >= '1' && b.p[1] <= '7') return netpbm(b);
    return std::nullopt;
}

ImageHeader check_image_header(const std::vector<unsigned char>& bytes, const ImageLimits& limits,
                               const std::string& name) {
    const std::optional<ImageHeader> header = read_image_header(bytes.data(), bytes.size());
    if (!header)
        throw ImageError("cannot decode image '" + name +
                         "': not a JPEG, PNG, BMP, TIFF, WebP or Netpbm file, or its header is cut short");
    if (header->pixels() > limits.max_pixels)
        throw ImageTooLargeError("refusing to decode image '" + name + "': its " + header->format + " header declares " +
                                 std::to_string(header->width) + "x" + std::to_string(header->height) + " = " +
                                 std::to_string(header->pixels()) + " pixels, more than the limit of " +
                                 std::to_string(limits.max_pixels));
    return *header;
}

}  // namespace vit
