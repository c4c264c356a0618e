// Every batch of one epoch of a loader, from batch `first` on (a resumed epoch), in order.
#pragma once
#include <cstddef>
#include <vector>

#include "vit/data/dataset.hpp"

namespace vit_test {

inline std::vector<vit::Batch> epoch_batches(vit::BatchLoader& l, int epoch, size_t first = 0) {
    l.start_epoch(epoch, first);
    std::vector<vit::Batch> out;
    vit::Batch b;
    while (l.next(b)) out.push_back(b);
    return out;
}

}  // namespace vit_test
