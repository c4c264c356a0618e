// The weights of one axis of a separable, antialiased resize: Pillow's (Resample.c, precompute_coeffs),
// which PyTorch's interpolate(..., antialias=True) reproduces in floating point. Shared by the image
// resampler (preprocess.cpp, which turns them into Pillow's fixed point) and the position-embedding
// resampler (checkpoint.cpp, which uses them as they are, like PyTorch). Private to the library.
#pragma once
#include <vector>

#include "vit/image/interpolation.hpp"

namespace vit::detail {

// Output sample i reads count[i] input samples starting at first[i], with weights
// w[i * ksize + j], j < count[i], that sum to 1.
struct ResampleWeights {
    int ksize = 0;
    std::vector<int> first, count;
    std::vector<double> w;
};

// For resizing an axis of in_size samples to out_size (both positive). Bicubic uses Keys' kernel with
// a = -0.5 (Pillow's and PyTorch's antialiased choice; PyTorch's plain bicubic uses -0.75).
ResampleWeights antialias_weights(int in_size, int out_size, Interpolation interp);

}  // namespace vit::detail
