#include "model/shape_check.hpp"

#include "vit/util/error.hpp"

namespace vit {

void check_input_shape(const Tensor& x, const ViTConfig& c, const std::string& what) {
    if (x.ndim() == 4 && x.shape[0] > 0 && x.shape[1] == c.in_chans && x.shape[2] == c.img_h && x.shape[3] == c.img_w)
        return;
    throw ShapeError(what + " has shape " + shape_str(x.shape) + ", expected [N, " + std::to_string(c.in_chans) +
                     ", " + std::to_string(c.img_h) + ", " + std::to_string(c.img_w) + "]");
}

}  // namespace vit
