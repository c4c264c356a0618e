#include "vit/distributed/communicator.hpp"

#include <cstdint>
#include <cstdlib>

#include "vit/util/error.hpp"

namespace vit {

void SingleProcess::abort(int status) { std::exit(status); }

BatchSlice batch_slice(int total, int rank, int ranks) {
    if (ranks < 1 || rank < 0 || rank >= ranks)
        throw ConfigError("process " + std::to_string(rank) + " is not one of " + std::to_string(ranks));
    if (total < 0) throw ConfigError("cannot split " + std::to_string(total) + " images");
    // 64-bit products: total * rank may exceed 2^31 for large batches on many processes.
    const auto edge = [&](int r) { return static_cast<int>(int64_t(total) * r / ranks); };
    BatchSlice s;
    s.first = edge(rank);
    s.count = edge(rank + 1) - s.first;
    s.total = total;
    return s;
}

}  // namespace vit
