// Small training data for the CLI tests: an image folder of 8x8 PNGs in three classes, and a tiny
// model configuration that trains on it in milliseconds.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace vit_test {

namespace fs = std::filesystem;

// train/ and test/ folders with three classes of 8x8 PNGs: a bright bar at the top, middle or bottom.
// The noise comes from a generator of its own in OpenCV's initial state (what cv::randu drew in a fresh
// process), so the data do not depend on which tests ran before in the same process.
inline void write_image_folder(const fs::path& root, int train_per_class, int test_per_class) {
    const char* classes[] = {"bottom", "middle", "top"};
    cv::RNG rng(0xffffffff);
    int seed = 0;
    for (const auto& [split, count] : {std::pair{"train", train_per_class}, std::pair{"test", test_per_class}})
        for (int k = 0; k < 3; ++k) {
            const fs::path dir = root / split / classes[k];
            fs::create_directories(dir);
            for (int i = 0; i < count; ++i) {
                cv::Mat img(8, 8, CV_8UC3);
                rng.fill(img, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(60 + seed++ % 7));
                const int row = k == 0 ? 5 : k == 1 ? 3 : 1;
                img.rowRange(row, row + 2).setTo(cv::Scalar(40, 220, 240));
                cv::imwrite((dir / (std::to_string(i) + ".png")).string(), img);
            }
        }
}

// fields: more configuration fields, each followed by a comma (e.g. "\"qkv_bias\": false, ").
inline void write_config(const fs::path& path, int dim, const std::string& fields = "") {
    std::ofstream(path) << R"({"img_size": 8, "patch_size": 4, "in_chans": 3, "num_classes": 3, "embed_dim": )"
                        << dim << R"(, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0, )" << fields
                        << R"("preprocess": {"crop_pct": 1.0}})";
}

}  // namespace vit_test
