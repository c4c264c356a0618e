// A dense float32, row-major tensor. Storage type of weights, inputs and outputs at the API boundary.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vit {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "[2, 3, 32, 32]"
int64_t shape_numel(const Shape& shape);

struct Tensor {
    Shape shape;
    std::vector<float> data;

    Tensor() = default;
    explicit Tensor(Shape s, float fill = 0.0f);
    Tensor(Shape s, std::vector<float> values);  // values.size() must equal the shape's element count

    int64_t numel() const { return static_cast<int64_t>(data.size()); }
    int64_t dim(int i) const;  // negative i counts from the end
    int ndim() const { return static_cast<int>(shape.size()); }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
};

// Named tensors in name order, as a checkpoint or a safetensors file holds them.
using TensorMap = std::map<std::string, Tensor>;

}  // namespace vit
