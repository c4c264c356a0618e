// Accuracy, per-class accuracy and the confusion matrix of a model on a labelled dataset.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vit/data/dataset.hpp"
#include "vit/model/model.hpp"

namespace vit {

struct EvalResult {
    std::vector<std::string> classes;
    std::vector<int64_t> confusion;  // (K, K): row = true class, column = predicted class
    int64_t total = 0, correct = 0;
    double loss = 0;                 // mean cross-entropy (no smoothing)

    double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
    double class_accuracy(size_t k) const;
    int64_t class_total(size_t k) const;
};

// Images must have the model's size and channels; they are normalised with the model's mean/std.
// Throws ConfigError if the dataset's classes do not fit the model's head.
EvalResult evaluate(const Model& model, const Dataset& data, int batch,
                    const std::function<void(size_t done, size_t total)>& progress = {}, Dtype dtype = Dtype::F32);

}  // namespace vit
