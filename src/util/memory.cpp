#include "vit/util/memory.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "vit/util/error.hpp"

namespace vit {
namespace {

constexpr uint64_t kUnknown = std::numeric_limits<uint64_t>::max();

// "MemAvailable:   22575828 kB" -> bytes; kUnknown when the line is missing (kernels before 3.14).
uint64_t meminfo_available() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (in >> key >> kib) {
        std::getline(in, unit);
        if (key == "MemAvailable:") return kib * 1024;
    }
    return kUnknown;
}

// A cgroup v2 file holding one number, or "max" (no limit): kUnknown then, or when it cannot be read.
uint64_t cgroup_value(const char* path) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text == "max") return kUnknown;
    try {
        return std::stoull(text);
    } catch (const std::exception&) {
        return kUnknown;
    }
}

std::string gib(double bytes) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

}  // namespace

uint64_t available_memory_bytes() {
    uint64_t available = meminfo_available();
    if (available == kUnknown) {
        const long pages = ::sysconf(_SC_AVPHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0) available = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
    }
    const uint64_t limit = cgroup_value("/sys/fs/cgroup/memory.max");
    const uint64_t used = cgroup_value("/sys/fs/cgroup/memory.current");
    if (limit != kUnknown && used != kUnknown) available = std::min(available, limit > used ? limit - used : 0);
    return available;
}

void require_memory(double bytes, const std::string& what) {
    const uint64_t available = available_memory_bytes();
    if (bytes <= static_cast<double>(available)) return;
    throw MemoryError(what + " needs about " + gib(bytes) + " of memory (estimated before allocating), but only " +
                      gib(static_cast<double>(available)) + " is available");
}

}  // namespace vit
