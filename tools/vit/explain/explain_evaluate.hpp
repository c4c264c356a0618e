// `vit explain --evaluate`: the images read from a dataset or folder, vit::evaluate_faithfulness
// (deletion and insertion curves, faithfulness.hpp) run on them, and its table printed.
#pragma once
#include <string>

#include "common.hpp"

namespace vit_cli {

struct FaithfulnessRun {
    std::string data;               // a dataset as `vit train` reads it (its test split), or a folder of images
    int workers = 2;                // image decoding threads
    vit::ImageLimits image_limits;  // images above it are skipped with a warning
    std::string csv;                // optional table as CSV
    vit::FaithfulnessOptions scoring;
};

// Prints the table to stdout. Returns the exit code.
int evaluate_faithfulness(const vit::Model& model, const FaithfulnessRun& run);

}  // namespace vit_cli
