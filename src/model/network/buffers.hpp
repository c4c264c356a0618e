// Addressing helpers shared by the network's passes (network.cpp, forward.cpp, backward.cpp,
// int8_block.cpp). Private to the library.
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>

#include "model/layers/attention_pool.hpp"
#include "vit/model/model.hpp"

namespace vit {

// Slot i of a buffer that keeps one (size)-element slot per block, or its only slot.
inline float* at(std::vector<float>& buf, int i, int64_t size, bool per_block) { return buf.data() + (per_block ? i * size : 0); }
inline const float* at(const std::vector<float>& buf, int i, int64_t size, bool per_block) {
    return buf.data() + (per_block ? i * size : 0);
}
// A parameter (or its gradient) in the flat buffer; null where the model has no such parameter.
inline const float* at(const Parameters& p, size_t off) { return off == size_t(-1) ? nullptr : p.data() + off; }
inline float* at(Parameters& p, size_t off) { return off == size_t(-1) ? nullptr : p.data() + off; }
// dst += src over n elements.
inline void add_into(float* dst, const float* src, int64_t n) {
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// The attention pool's tensors in a flat buffer: the parameters (const) or their gradients.
template <class Buffer>
inline auto attn_pool_tensors(Buffer& p, const AttnPoolParams& a) {
    using F = std::remove_pointer_t<decltype(at(p, a.latent))>;
    return layers::AttentionPool::Tensors<F>{at(p, a.latent), at(p, a.q_w),    at(p, a.q_b),    at(p, a.kv_w),
                                             at(p, a.kv_b),   at(p, a.proj_w), at(p, a.proj_b), at(p, a.norm_w),
                                             at(p, a.norm_b), at(p, a.fc1_w),  at(p, a.fc1_b),  at(p, a.fc2_w),
                                             at(p, a.fc2_b)};
}

}  // namespace vit
