// Loops compiled twice, for AVX-512 and for the baseline x86-64, with the loader picking one per
// machine: the library is built for the baseline (it must run anywhere Debian runs), and oneDNN's
// own kernels dispatch the same way. Mark a function VIT_ROW_KERNEL to get both versions.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VIT_ROW_KERNEL __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define VIT_ROW_KERNEL
#endif
