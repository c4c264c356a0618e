// The program's side of vit::ImageBatches (data/image_batches.hpp): what the library reports as
// problems and failed images becomes warnings on stderr, counted as failures.
#pragma once
#include <string>
#include <vector>

#include "vit/data/image_batches.hpp"

namespace vit_cli {

using vit::ImageBatches;

// vit::collect_image_inputs, each problem warned and counted in failed; relative (optional) receives
// each path's relative name.
std::vector<std::string> collect_inputs(const std::vector<std::string>& inputs, size_t& failed,
                                        std::vector<std::string>* relative = nullptr);

// ImageBatches::wait_decoded, each failed image warned ("skipping PATH: reason") and counted in failed.
float* wait_decoded(ImageBatches& batches, int k, const std::vector<std::string>& paths, std::vector<size_t>& ok,
                    size_t& failed);

}  // namespace vit_cli
