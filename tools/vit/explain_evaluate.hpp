// `vit explain --evaluate`: how faithful the maps are, by deletion and insertion curves (Petsiuk et al.
// 2018, RISE): remove the patches a map ranks highest from the image (or insert them into a blank one)
// a few at a time and follow the probability of the originally predicted class.
#pragma once
#include <cstdint>
#include <string>

#include "common.hpp"

namespace vit_cli {

struct FaithfulnessOptions {
    std::string data;   // a dataset as `vit train` reads it (its test split), or a folder of images
    size_t limit = 0;   // 0: every image; otherwise this many, spread evenly over the set
    int batch = 64;
    int workers = 2;
    uint64_t seed = 0;  // of the random baseline map
    std::string csv;    // optional table as CSV
};

// Prints the table to stdout. Returns the exit code.
int evaluate_faithfulness(const vit::Model& model, const FaithfulnessOptions& opts);

}  // namespace vit_cli
