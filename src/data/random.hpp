// Private to the data sources: the hashing and bounded draws behind every random decision of the
// data pipeline. They are written out here rather than taken from <random>'s distributions because
// std::uniform_int_distribution is implementation-defined: a shuffle must be the same on every
// standard library for a resumed or re-run experiment to see the same batches.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>

#include "util/mix64.hpp"

namespace vit::data_detail {

// Seed of an epoch's permutation. splitmix64 (vit/mix64.hpp) makes the seeds of nearby inputs (seed,
// seed + 1, epoch 0, 1, ...) statistically unrelated, which seeding one generator per (seed, epoch,
// batch) needs.
inline uint64_t epoch_seed(uint64_t seed, uint64_t epoch) { return splitmix64(seed ^ splitmix64(epoch)); }

// Seed of batch b's augmentation in an epoch: chained through the epoch seed, with the batch index
// offset so that it never coincides with the permutation's seed.
inline uint64_t batch_seed(uint64_t seed, uint64_t epoch, uint64_t batch) {
    return splitmix64(epoch_seed(seed, epoch) ^ splitmix64(batch + 0x5bd1e9955bd1e995ull));
}

// Uniform integer in [0, n) from one 64-bit draw: the high word of draw * n (Lemire's reduction
// without the rejection step; the bias is below n / 2^64, far beneath anything measurable here).
inline uint64_t below(std::mt19937_64& rng, uint64_t n) {
    const uint64_t r = rng();
#ifdef __SIZEOF_INT128__
    return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * n) >> 64);
#else
    // The same high word from 32-bit halves, for compilers without a 128-bit integer.
    const uint64_t rl = r & 0xffffffffu, rh = r >> 32, nl = n & 0xffffffffu, nh = n >> 32;
    const uint64_t mid = rh * nl + ((rl * nl) >> 32);
    return rh * nh + (mid >> 32) + ((rl * nh + (mid & 0xffffffffu)) >> 32);
#endif
}

// In-place Fisher-Yates: position i swaps with a uniform position in [0, i], which makes every
// permutation equally likely.
template <class T>
void shuffle(T* v, size_t n, std::mt19937_64& rng) {
    for (size_t i = n; i > 1; --i) {
        const size_t j = static_cast<size_t>(below(rng, i));
        std::swap(v[i - 1], v[j]);
    }
}

// Continuous draws, written out for the same reason as below(): <random>'s distributions differ
// between standard libraries.

// Uniform in [0, 1) from the top 53 bits of one draw.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Standard normal by Box-Muller, one value per two draws (the pair's second value is not kept, so
// every call consumes the same number of draws).
inline double normal(std::mt19937_64& rng) {
    const double u1 = 1.0 - uniform01(rng);  // in (0, 1]: log is finite
    const double u2 = uniform01(rng);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// Gamma(a, 1) by Marsaglia and Tsang (2000): for a >= 1, with d = a - 1/3 and c = 1/sqrt(9d), accept
// d v, v = (1 + c z)^3, z normal, when log u < z^2/2 + d - d v + d log v. For a < 1, Gamma(a) is
// Gamma(a + 1) * u^(1/a).
inline double gamma(std::mt19937_64& rng, double a) {
    if (a < 1.0) {
        const double g = gamma(rng, a + 1.0);
        return g * std::pow(1.0 - uniform01(rng), 1.0 / a);
    }
    const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
        const double z = normal(rng);
        const double t = 1.0 + c * z;
        if (t <= 0.0) continue;
        const double v = t * t * t;
        const double u = 1.0 - uniform01(rng);
        if (std::log(u) < 0.5 * z * z + d - d * v + d * std::log(v)) return d * v;
    }
}

// Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b), as numpy's random.beta for a, b > 1
// (numpy switches to Johnk's method below; the distribution is the same, the draws are not).
inline double beta(std::mt19937_64& rng, double a, double b) {
    const double x = gamma(rng, a), y = gamma(rng, b);
    return x / (x + y);
}

}  // namespace vit::data_detail
