// Which parameters fine-tuning changes: all of them; the classifier head alone (a linear probe); or all
// but the embedding (patch embedding, prefix tokens, position embedding, norm_pre) and the first
// `frozen_blocks` blocks. Frozen parameters get no gradient (the backward pass stops below the lowest
// trainable block, or after the head) and no optimizer state.
#pragma once
#include "vit/model/model.hpp"

namespace vit {

struct Trainable {
    bool head_only = false;
    int frozen_blocks = 0;

    bool all() const { return !head_only && frozen_blocks == 0; }
    bool updates(const ParamView& v) const;
    // Throws FieldError: frozen_blocks in [0, depth], and not together with head_only.
    void validate(int depth) const;
};

}  // namespace vit
