// Conversion of a dense buffer between number formats (f32 -> bf16 rounds to nearest even): a oneDNN
// reorder planned once for n elements, bound to pointers per call.
#pragma once
#include <unordered_map>

#include "model/layers/dnn.hpp"

namespace vit::layers {

class Convert {
public:
    Convert() = default;
    Convert(int64_t n, dt from, dt to);
    void run(const void* src, void* dst);

private:
    dnnl::reorder prim_;
    dnnl::memory src_, dst_;
    std::unordered_map<int, dnnl::memory> args_;
};

}  // namespace vit::layers
