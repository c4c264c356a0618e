// Our own vectorised loops, compiled three times (AVX-512, AVX2 + FMA, and the baseline x86-64 the
// library is built for: it must run anywhere Debian runs) and picked at run time by the same rule as
// oneDNN's kernels: the CPU's instruction set capped by ONEDNN_MAX_CPU_ISA (cpu_support.hpp). So one
// environment variable caps every kernel in the process, ours included, and tests on an AVX-512
// machine run the code an AVX2 user runs.
//
// A row kernel is written once, as the body of a lambda marked VIT_KERNEL_BODY, and run through
// vectorized(): the body is inlined into each of the three compiled variants, and the compiler
// vectorises each copy for its own instruction set.
//
//   void quantize_row(const float* x, int64_t n, ...) {
//       cpu::vectorized([&]() VIT_KERNEL_BODY { ...loops over x[0, n)... });
//   }
//
// (GCC's target_clones would pick by the CPU alone, out of reach of the cap.)
#pragma once

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

template <class F>
VIT_TARGET_AVX512 auto on_avx512(F& f) {
    return f();
}
template <class F>
VIT_TARGET_AVX2 auto on_avx2(F& f) {
    return f();
}
template <class F>
auto on_baseline(F& f) {
    return f();
}

// Runs f() in the variant compiled for vector_level(); returns what f returns.
template <class F>
inline auto vectorized(F&& f) {
    switch (vector_level()) {
    case Vectors::Avx512: return on_avx512(f);
    case Vectors::Avx2: return on_avx2(f);
    case Vectors::Baseline: break;
    }
    return on_baseline(f);
}
#else
#define VIT_KERNEL_BODY
template <class F>
inline auto vectorized(F&& f) {
    return f();
}
#endif

}  // namespace vit::cpu
