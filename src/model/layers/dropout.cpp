#include "model/layers/dropout.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/cpu_dispatch.hpp"
#include "vit/util/error.hpp"

namespace vit::layers {

namespace {

// Chris Wellons' lowbias32: a 32-bit bijection with very low avalanche bias.
inline uint32_t lowbias32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    return x ^ (x >> 16);
}

// h(key, i): the counter on a golden-ratio stride plus one half of the key, mixed; then the other
// half, mixed again. With one round, keys a multiple of the stride apart would give shifted copies
// of one mask; with two, such keys must also agree in the second half.
inline uint32_t hash(uint32_t k0, uint32_t k1, uint32_t i) { return lowbias32(lowbias32(i * 0x9E3779B9u + k0) ^ k1); }

// Element i draws mask entry first + i.
// The element loop, compiled for AVX-512, AVX2 and the baseline (cpu_dispatch.hpp).
VIT_KERNEL_BODY inline void mask_range(const float* x, float* y, int64_t begin, int64_t end, uint32_t first, uint32_t k0,
                                       uint32_t k1, uint32_t threshold, float scale) {
    for (int64_t i = begin; i < end; ++i)
        y[i] = hash(k0, k1, first + static_cast<uint32_t>(i)) >= threshold ? x[i] * scale : 0.0f;
}

}  // namespace

Dropout::Dropout(float rate) : rate_(rate) {
    if (!(rate >= 0.0f && rate < 1.0f)) throw ConfigError("dropout rate must be in [0, 1), got " + std::to_string(rate));
    threshold_ = static_cast<uint32_t>(std::min(4294967295.0, std::round(static_cast<double>(rate) * 4294967296.0)));
}

bool Dropout::kept(uint64_t key, int64_t i) const {
    const uint64_t k = mix64(key);
    return hash(static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32), static_cast<uint32_t>(i)) >= threshold_;
}

void Dropout::apply(const float* x, float* y, int64_t n, uint64_t key, int64_t first) const {
    if (!active()) {
        if (x != y) std::copy(x, x + n, y);
        return;
    }
    if (first < 0 || first + n > (int64_t(1) << 32))
        throw ConfigError("dropout over elements [" + std::to_string(first) + ", " + std::to_string(first + n) +
                          ") (at most 2^32)");
    const uint64_t k = mix64(key);
    const uint32_t k0 = static_cast<uint32_t>(k), k1 = static_cast<uint32_t>(k >> 32);
    const float scale = 1.0f / (1.0f - rate_);
    // Contiguous chunks per thread; small arrays are not worth waking the thread team for.
    constexpr int64_t kChunk = int64_t(1) << 15;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for if (chunks > 1)
    for (int64_t c = 0; c < chunks; ++c)
        cpu::vectorized<mask_range>(x, y, c * kChunk, std::min(n, (c + 1) * kChunk), static_cast<uint32_t>(first), k0,
                                    k1, threshold_, scale);
}

}  // namespace vit::layers
