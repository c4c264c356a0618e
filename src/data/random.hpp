// Private to the data sources: the hashing and bounded draws behind every random decision of the
// data pipeline. They are written out here rather than taken from <random>'s distributions because
// std::uniform_int_distribution is implementation-defined: a shuffle must be the same on every
// standard library for a resumed or re-run experiment to see the same batches.
#pragma once
#include <cstdint>
#include <random>
#include <utility>

#include "vit/mix64.hpp"

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

}  // namespace vit::data_detail
