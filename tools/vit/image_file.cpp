#include "image_file.hpp"

#include <opencv2/imgcodecs.hpp>

#include "vit/util/atomic_file.hpp"
#include "vit/util/error.hpp"

namespace vit_cli {

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    vit::AtomicFile file(path);
    file.stream().write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    file.commit();
}

void write_png(const std::string& path, const cv::Mat& image) {
    std::vector<unsigned char> bytes;
    if (!cv::imencode(".png", image, bytes)) throw vit::IoError("cannot encode " + path + " as PNG");
    write_bytes(path, bytes);
}

}  // namespace vit_cli
