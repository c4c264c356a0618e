// Inverted dropout: y = m ⊙ x / (1 - p) with m_i ~ Bernoulli(1 - p), so E[y] = x and evaluation
// needs no rescaling. Its backward is the same map applied to dy, dx = m ⊙ dy / (1 - p).
//
// The mask is a pure function of (key, i): m_i = [h(key, i) >= p · 2^32], h a counter-based hash,
// rather than the output of a sequential generator. Backward recomputes the mask instead of storing
// one per activation, any number of threads draws the same mask, and a training run that derives
// keys from (seed, step) repeats its masks exactly after a resume. h is two rounds of a 32-bit
// integer mixer, which vectorises (a 64-bit one does not below AVX-512DQ), so a mask costs well
// under a nanosecond per element.
#pragma once
#include <cstdint>

#include "util/mix64.hpp"

namespace vit::layers {

class Dropout {
public:
    Dropout() = default;
    // rate p in [0, 1); 0 makes apply a copy (or nothing, in place).
    explicit Dropout(float rate);
    bool active() const { return rate_ > 0.0f; }

    // y = m(key) ⊙ x / (1 - p) over n elements; y may be x. Forward and backward both call this, with
    // the same key. Element i draws mask entry first + i (first + n <= 2^32): a process that computes
    // part of a larger batch passes its part's offset in that batch, and so draws the masks the whole
    // batch would have given its images.
    void apply(const float* x, float* y, int64_t n, uint64_t key, int64_t first = 0) const;
    // Whether element i is kept under key (the mask apply uses).
    bool kept(uint64_t key, int64_t i) const;

private:
    float rate_ = 0.0f;
    uint32_t threshold_ = 0;  // p · 2^32: element i is dropped when its hash falls below it
};

}  // namespace vit::layers
