// Comparing tensors in tests: the largest absolute difference, the largest magnitude.
#pragma once
#include <algorithm>
#include <cmath>

#include "vit/util/tensor.hpp"

namespace vit_test {

// Over the common length, so that a size mismatch (asserted separately) cannot read out of bounds.
inline float max_abs_diff(const vit::Tensor& a, const vit::Tensor& b) {
    float m = 0;
    for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i) m = std::max(m, std::fabs(a.data[i] - b.data[i]));
    return m;
}

inline float max_abs(const vit::Tensor& a) {
    float m = 0;
    for (float v : a.data) m = std::max(m, std::fabs(v));
    return m;
}

}  // namespace vit_test
