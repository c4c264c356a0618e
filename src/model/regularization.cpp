#include "vit/model/regularization.hpp"

#include <string>
#include <utility>

#include "vit/util/error.hpp"

namespace vit {

void Regularization::validate() const {
    for (auto [name, rate] : {std::pair{"drop_path", drop_path}, std::pair{"dropout", dropout},
                              std::pair{"attn_drop", attn_drop}, std::pair{"head_drop", head_drop}})
        if (!(rate >= 0.0f && rate < 1.0f))
            throw ConfigError(std::string("Regularization::") + name + " must be in [0, 1), got " +
                              std::to_string(rate));
}

}  // namespace vit
