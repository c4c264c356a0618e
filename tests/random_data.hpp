// Seeded normal random data for tests: the same numbers on every run and every machine that shares the
// standard library.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace vit_test {

// n draws of N(shift, scale²), from std::mt19937(seed).
inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f, float shift = 0.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng) + shift;
    return v;
}

}  // namespace vit_test
