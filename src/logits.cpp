#include "vit/logits.hpp"

#include <algorithm>
#include <cmath>

namespace vit {

int argmax(const float* z, int n) { return static_cast<int>(std::max_element(z, z + n) - z); }

double log_sum_exp(const float* z, int n) {
    const float m = *std::max_element(z, z + n);
    double sum = 0;
    for (int k = 0; k < n; ++k) sum += std::exp(static_cast<double>(z[k] - m));
    return std::log(sum) + m;
}

}  // namespace vit
