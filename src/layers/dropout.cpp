#include "vit/layers/dropout.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "vit/error.hpp"

namespace vit::layers {

Dropout::Dropout(float rate) : rate_(rate) {
    if (!(rate >= 0.0f && rate < 1.0f)) throw ConfigError("dropout rate must be in [0, 1), got " + std::to_string(rate));
    threshold_ = static_cast<uint64_t>(std::llround(static_cast<double>(rate) * 4294967296.0));
}

bool Dropout::kept(uint64_t key, int64_t i) const {
    // The golden-ratio stride spreads consecutive counters over the hash's input space.
    return (mix64(key + static_cast<uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull) >> 32) >= threshold_;
}

void Dropout::apply(const float* x, float* y, int64_t n, uint64_t key) const {
    if (!active()) {
        if (x != y) std::copy(x, x + n, y);
        return;
    }
    const float scale = 1.0f / (1.0f - rate_);
    // Small arrays are not worth waking the thread team for.
#pragma omp parallel for simd if (n >= (int64_t(1) << 16))
    for (int64_t i = 0; i < n; ++i) y[i] = kept(key, i) ? x[i] * scale : 0.0f;
}

}  // namespace vit::layers
