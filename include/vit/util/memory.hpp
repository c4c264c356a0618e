// Memory budget: how much memory the system can still give this process, and a check that refuses a
// planned allocation with a clear message when it cannot fit, instead of a bare std::bad_alloc or the
// kernel's out-of-memory killer half-way through.
#pragma once
#include <cstdint>
#include <string>

namespace vit {

// Bytes available now: /proc/meminfo's MemAvailable (free memory plus caches the kernel can drop),
// lowered to what a cgroup v2 memory limit leaves (memory.max - memory.current) when there is one.
// sysconf's available pages where /proc is missing; UINT64_MAX when nothing can be read.
uint64_t available_memory_bytes();

// Throws MemoryError when `bytes` (an estimate made before allocating, in double so that the estimate of
// a hostile size cannot overflow) exceed available_memory_bytes(). The message says what needs the
// memory (`what`), the estimate and what is available, in GiB.
void require_memory(double bytes, const std::string& what);

}  // namespace vit
