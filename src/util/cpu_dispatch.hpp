// Our own vectorised loops, compiled three times (AVX-512, AVX2 + FMA, and the baseline x86-64 the
// library is built for: it must run anywhere Debian runs) and picked at run time by the same rule as
// oneDNN's kernels: the CPU's instruction set capped by ONEDNN_MAX_CPU_ISA (cpu_support.hpp). So one
// environment variable caps every kernel in the process, ours included, and tests on an AVX-512
// machine run the code an AVX2 user runs.
//
// A row kernel is written once, as a function marked VIT_KERNEL_BODY (always inlined), and called
// through vectorized<kernel>(args...): the body is inlined into each of the three compiled variants,
// and the compiler vectorises each copy for its own instruction set. The arguments arrive as the
// kernel's own parameters, so the vectoriser sees plain local values (a lambda's captures would be
// loads through the closure, which a float store may alias, and the loops would stay scalar).
//
//   VIT_KERNEL_BODY inline void quantize_kernel(const float* x, int64_t n, ...) { ...loops... }
//   void quantize_row(const float* x, int64_t n, ...) { cpu::vectorized<quantize_kernel>(x, n, ...); }
//
// (GCC's target_clones would pick by the CPU alone, out of reach of the cap.)
#pragma once
#include <utility>

namespace vit::cpu {

// The widest vectors our loops may use here: AVX-512 (F, BW, CD, DQ, VL: oneDNN's AVX512_CORE),
// AVX2 with FMA, or the baseline (SSE2). Found once per process.
enum class Vectors { Baseline, Avx2, Avx512 };
Vectors vector_level();
const char* to_string(Vectors v);

#if defined(__GNUC__) && defined(__x86_64__)
#define VIT_KERNEL_BODY __attribute__((always_inline))
#define VIT_TARGET_AVX2 __attribute__((target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt")))
#define VIT_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt")))

template <auto Kernel, class... Args>
VIT_TARGET_AVX512 auto on_avx512(Args&&... args) {
    return Kernel(std::forward<Args>(args)...);
}
template <auto Kernel, class... Args>
VIT_TARGET_AVX2 auto on_avx2(Args&&... args) {
    return Kernel(std::forward<Args>(args)...);
}
template <auto Kernel, class... Args>
auto on_baseline(Args&&... args) {
    return Kernel(std::forward<Args>(args)...);
}

// Runs Kernel(args...) in the variant compiled for vector_level(); returns what it returns.
template <auto Kernel, class... Args>
inline auto vectorized(Args&&... args) {
    switch (vector_level()) {
    case Vectors::Avx512: return on_avx512<Kernel>(std::forward<Args>(args)...);
    case Vectors::Avx2: return on_avx2<Kernel>(std::forward<Args>(args)...);
    case Vectors::Baseline: break;
    }
    return on_baseline<Kernel>(std::forward<Args>(args)...);
}
#else
#define VIT_KERNEL_BODY
template <auto Kernel, class... Args>
inline auto vectorized(Args&&... args) {
    return Kernel(std::forward<Args>(args)...);
}
#endif

}  // namespace vit::cpu
