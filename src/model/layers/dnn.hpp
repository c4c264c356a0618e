// Shared oneDNN plumbing for the layers: one CPU engine and stream for the process, and the few
// descriptor helpers every layer needs.
//
// The layer contract, which every layer in vit::layers follows (and tests/model/test_layers.cpp checks for
// each one against finite differences, on its own):
//   - Construction plans everything for fixed shapes (rows, widths, batch): oneDNN primitives, memory
//     descriptors and scratch. No primitive is created and nothing is allocated in forward or backward.
//   - forward(inputs, parameters..., outputs) WRITES its outputs. Training layers may also write
//     statistics the backward needs (LayerNorm's mean and variance) into caller-owned buffers.
//   - backward(saved inputs, parameters..., dy, dx, dparameters...) WRITES dx (the gradient of its
//     input) and ACCUMULATES (+=) into every parameter gradient, so that one flat gradient buffer,
//     zeroed once per step, can collect the contributions of every use of a parameter.
//   - Parameters and their gradients are not owned by the layer: they are pointers into the flat
//     buffers of vit::Parameters, passed on every call.
//   - Shapes are written in the comments as (rows, channels), rows ordered (image, token).
#pragma once
#include <cstdint>
#include <cstring>

#include <oneapi/dnnl/dnnl.hpp>

#include "util/onednn.hpp"
#include "vit/model/config.hpp"

namespace vit::layers {

using onednn::dims;
using onednn::dt;
using onednn::tag;

// bfloat16 storage: the upper 16 bits of an IEEE f32 (8 exponent bits as f32, 8 significant bits).
using Bf16 = std::uint16_t;
// f32 -> bf16 rounded to nearest, ties to even, as oneDNN rounds (a NaN stays a quiet NaN).
inline Bf16 to_bf16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<Bf16>((u >> 16) | 0x40u);
    return static_cast<Bf16>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// bf16 -> f32 is exact: the bf16 bits are the upper half of the f32.
inline float from_bf16(Bf16 b) {
    const std::uint32_t u = std::uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

using onednn::cpu_engine;
using onednn::cpu_stream;

inline dnnl::memory::desc f32_desc(const dims& d, tag t) { return dnnl::memory::desc(d, dt::f32, t); }
// A memory object whose data handle is set per call (no allocation).
inline dnnl::memory unbound(const dnnl::memory::desc& md) {
    return dnnl::memory(md, cpu_engine(), DNNL_MEMORY_NONE);
}
inline void bind(dnnl::memory& m, const void* p) { m.set_data_handle(const_cast<void*>(p)); }

// The oneDNN eltwise algorithm of an MLP activation and its alpha: QuickGELU x·σ(1.702x) is swish
// with alpha 1.702.
struct Eltwise {
    dnnl::algorithm alg;
    float alpha;
};
Eltwise eltwise_of(Activation act);

}  // namespace vit::layers
