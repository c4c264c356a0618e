// splitmix64 (Steele, Lea and Flood 2014), the hash behind every seed the library derives: the
// dropout keys of a training step and the data pipeline's per-epoch and per-batch generators.
#pragma once
#include <cstdint>

namespace vit {

// splitmix64's finaliser: a bijection of 64-bit words (xor-shifts and odd multipliers are each
// invertible) whose outputs for consecutive inputs (seed, seed + 1; epoch 0, 1, ...) look independent.
inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// One full splitmix64 step: the state advanced by the golden-ratio increment, then finalised, so that
// x = 0 does not map to 0.
inline uint64_t splitmix64(uint64_t x) { return mix64(x + 0x9e3779b97f4a7c15ull); }

}  // namespace vit
