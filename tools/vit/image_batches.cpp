#include "image_batches.hpp"

#include "common.hpp"

namespace vit_cli {

std::vector<std::string> collect_inputs(const std::vector<std::string>& inputs, size_t& failed,
                                        std::vector<std::string>* relative) {
    vit::ImageInputs in = vit::collect_image_inputs(inputs);
    for (const std::string& problem : in.problems) warn(problem);
    failed += in.problems.size();
    if (relative) *relative = std::move(in.relative);
    return std::move(in.paths);
}

float* wait_decoded(ImageBatches& batches, int k, const std::vector<std::string>& paths, std::vector<size_t>& ok,
                    size_t& failed) {
    std::vector<vit::ImageFailure> failures;
    float* x = batches.wait_decoded(k, ok, failures);
    for (const vit::ImageFailure& f : failures) warn("skipping " + paths[f.index] + ": " + f.reason);
    failed += failures.size();
    return x;
}

}  // namespace vit_cli
