// `vit explain --html`: index.html in the output folder, a gallery of every panel with its prediction,
// probability and method, and for labelled folders (images under a folder named after a class) whether
// the prediction was right. Sorting and filtering (by class, by correctness) run in the page's own
// script; the page loads nothing from the network, only the panels beside it.
#pragma once
#include <string>
#include <vector>

namespace vit_cli {

struct GalleryEntry {
    std::string panel;   // the panel's path relative to the output folder
    std::string input;   // the input image, as given
    std::string label;   // predicted class ("" for a model without a classifier)
    float probability = 0;
    std::string truth;   // the class its folder names, or "" when unlabelled
};

// Writes DIR/index.html atomically. title: the model and method, shown on top.
void write_gallery(const std::string& dir, const std::string& title, const std::vector<GalleryEntry>& entries);

}  // namespace vit_cli
