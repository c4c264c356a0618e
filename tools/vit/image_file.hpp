// Writing the program's pictures: bytes and PNGs replaced atomically, so an interrupted run leaves
// the old file or the complete new one, never a partial one.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace vit_cli {

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes);  // throws vit::IoError
void write_png(const std::string& path, const cv::Mat& image);                       // 8 or 16 bit

}  // namespace vit_cli
