// The MLP activations (config.hpp: Activation) in plain arithmetic that compilers vectorise, for the
// epilogues we write ourselves (the int8 Linear's). oneDNN's eltwise primitive computes the same
// functions, but only as a pass of its own over memory, or fused into a kernel that cannot take a
// per-row scale (see int8_linear.hpp).
//
//   exp:       e^x = 2^n · e^r with n = round(x / ln 2) and |r| ≤ ln2 / 2, e^r by its Taylor series to
//              r^6 (relative error below 2e-7), 2^n written into the exponent bits.
//   GELU:      x/2 · (1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7).
//   tanh-GELU: x/2 · (1 + tanh(u)) = x / (1 + e^{-2u}), u = √(2/π) · (x + 0.044715 x³).
//   QuickGELU: x · σ(1.702 x) = x / (1 + e^{-1.702 x}).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "vit/model/config.hpp"

namespace vit::layers {

inline float exp_approx(float x) {
    x = std::min(std::max(x, -87.0f), 88.0f);  // 2^n stays a normal float
    const float magic = 12582912.0f;           // 1.5 · 2^23: adding it rounds to an integer
    const float n = (x * 1.44269504f + magic) - magic;
    const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-6f;  // ln 2 in two parts
    const float p =
        1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) * (1 << 23);
    float two_n;
    std::memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

inline float erf_approx(float x) {
    const float z = std::fabs(x);
    const float t = 1.0f / (1.0f + 0.3275911f * z);
    const float poly =
        t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    const float e = 1.0f - poly * exp_approx(-z * z);
    return x < 0 ? -e : e;
}

inline float gelu_erf(float x) { return 0.5f * x * (1.0f + erf_approx(x * 0.70710678f)); }
inline float quick_gelu(float x) { return x / (1.0f + exp_approx(-1.702f * x)); }
inline float gelu_tanh(float x) { return x / (1.0f + exp_approx(-2.0f * 0.79788456f * (x + 0.044715f * x * x * x))); }

}  // namespace vit::layers
