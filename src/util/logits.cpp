#include "vit/util/logits.hpp"

#include <algorithm>
#include <cmath>

#include "vit/util/error.hpp"

namespace vit {

int argmax(const float* z, int n) { return static_cast<int>(std::max_element(z, z + n) - z); }

double log_sum_exp(const float* z, int n) {
    const float m = *std::max_element(z, z + n);
    double sum = 0;
    for (int k = 0; k < n; ++k) sum += std::exp(static_cast<double>(z[k] - m));
    return std::log(sum) + m;
}

void one_hot_rows(const std::vector<int>& classes, int K, int rows, std::vector<float>& dz, const std::string& what) {
    for (int k : classes)
        if (k < 0 || k >= K)
            throw ConfigError(what + ": class " + std::to_string(k) + " out of range [0, " + std::to_string(K) + ")");
    dz.assign(std::max(dz.size(), size_t(rows) * size_t(K)), 0.0f);
    for (size_t i = 0; i < classes.size(); ++i) dz[i * size_t(K) + size_t(classes[i])] = 1.0f;
}

}  // namespace vit
