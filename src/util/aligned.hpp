// Buffers on 64-byte (cache-line and AVX-512 register) boundaries. A vectorised loop over a buffer that
// malloc happened to place 16 bytes off a boundary first runs up to 15 scalar iterations to reach one
// (GCC's peeling for alignment): for short rows with costly bodies (the int8 epilogue's GELU over 256
// values) that measured 14% of a whole cifar-t int8 forward. Private to the library.
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace vit {

inline constexpr std::size_t kAlignment = 64;

template <class T>
struct AlignedAllocator {
    using value_type = T;
    AlignedAllocator() = default;
    template <class U>
    AlignedAllocator(const AlignedAllocator<U>&) {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kAlignment))); }
    void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(kAlignment)); }
    template <class U>
    bool operator==(const AlignedAllocator<U>&) const { return true; }
    template <class U>
    bool operator!=(const AlignedAllocator<U>&) const { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// n elements of T rounded up to a whole number of 64-byte lines: the stride that keeps every row of a
// row-major buffer on a boundary.
template <class T>
constexpr std::size_t aligned_stride(std::size_t n) {
    const std::size_t per_line = kAlignment / sizeof(T);
    return (n + per_line - 1) / per_line * per_line;
}

}  // namespace vit
