#include "vit/model/trainable.hpp"

#include <string>

#include "vit/util/error.hpp"

namespace vit {

bool Trainable::updates(const ParamView& v) const {
    if (head_only) return v.head;
    return frozen_blocks == 0 || v.block >= frozen_blocks;
}

void Trainable::validate(int depth) const {
    if (frozen_blocks < 0 || frozen_blocks > depth)
        throw FieldError("Trainable", "frozen_blocks", "must be in [0, " + std::to_string(depth) + "] (the model's depth)",
                         std::to_string(frozen_blocks));
    if (head_only && frozen_blocks > 0)
        throw FieldError("Trainable", "frozen_blocks", "must be 0 when only the head is trained",
                         std::to_string(frozen_blocks));
}

}  // namespace vit
