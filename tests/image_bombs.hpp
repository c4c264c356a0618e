// Small image files whose headers declare a size other than the pixels they hold: the shape of a
// "decompression bomb", made from a tiny valid image by rewriting the dimensions in its header.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <zlib.h>

namespace vit_test {

inline void put_be(std::vector<unsigned char>& b, size_t at, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b[at + size_t(i)] = static_cast<unsigned char>(v >> (8 * (bytes - 1 - i)));
}

// An 8x8 PNG whose IHDR says width x height, with the chunk's CRC recomputed so that a decoder
// accepts the header.
inline std::vector<unsigned char> png_declaring(uint32_t width, uint32_t height) {
    std::vector<unsigned char> b;
    EXPECT_TRUE(cv::imencode(".png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), b));
    put_be(b, 16, width, 4);
    put_be(b, 20, height, 4);
    // The CRC covers the chunk type and data: bytes 12 to 28 ("IHDR" and 13 bytes of fields).
    put_be(b, 29, static_cast<uint32_t>(crc32(0L, b.data() + 12, 17)), 4);
    return b;
}

// A 16x16 baseline JPEG whose frame header (SOF0) says width x height (each below 65536).
inline std::vector<unsigned char> jpeg_declaring(uint32_t width, uint32_t height) {
    std::vector<unsigned char> b;
    EXPECT_TRUE(cv::imencode(".jpg", cv::Mat(16, 16, CV_8UC3, cv::Scalar(1, 2, 3)), b));
    for (size_t i = 2; i + 9 < b.size(); ++i) {
        if (b[i] == 0xFF && b[i + 1] == 0xC0) {  // SOF0: FF C0, length (2), precision (1), height, width
            put_be(b, i + 5, height, 2);
            put_be(b, i + 7, width, 2);
            return b;
        }
    }
    ADD_FAILURE() << "no SOF0 marker in OpenCV's JPEG";
    return b;
}

inline void write_image_bytes(const std::string& path, const std::vector<unsigned char>& b) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

}  // namespace vit_test
