#include "vit/image/extensions.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace vit {

const std::vector<std::string>& image_extensions() {
    // JPEG, PNG, BMP, TIFF, WebP and the Netpbm family (.pnm is the generic name of .pgm and .ppm).
    static const std::vector<std::string> kExtensions = {".jpg", ".jpeg", ".png",  ".bmp", ".tif",
                                                         ".tiff", ".webp", ".ppm", ".pgm", ".pnm"};
    return kExtensions;
}

bool has_image_extension(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto& all = image_extensions();
    return std::find(all.begin(), all.end(), ext) != all.end();
}

}  // namespace vit
