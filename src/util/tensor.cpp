#include "vit/util/tensor.hpp"

#include <sstream>

#include "vit/util/error.hpp"

namespace vit {

std::string shape_str(const Shape& shape) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    os << ']';
    return os.str();
}

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

Tensor::Tensor(Shape s, float fill) : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape)), fill) {}

Tensor::Tensor(Shape s, std::vector<float> values) : shape(std::move(s)), data(std::move(values)) {
    if (static_cast<int64_t>(data.size()) != shape_numel(shape))
        throw ShapeError("tensor of shape " + shape_str(shape) + " needs " + std::to_string(shape_numel(shape)) +
                         " values, got " + std::to_string(data.size()));
}

int64_t Tensor::dim(int i) const {
    const int n = ndim();
    const int j = i < 0 ? i + n : i;
    if (j < 0 || j >= n)
        throw ShapeError("dimension " + std::to_string(i) + " out of range for shape " + shape_str(shape));
    return shape[static_cast<size_t>(j)];
}

}  // namespace vit
