// Image files for inference: files and folders expanded into image paths, and the images decoded and
// preprocessed on worker threads into batches, a few ahead of the model (classify, explain and eval
// of the program read their inputs this way).
//
//   vit::ImageInputs in = vit::collect_image_inputs({"photos/", "cat.jpg"});
//   vit::ImageBatches batches(in.paths, model.preprocess(), 32, /*workers=*/2, vit::ImageLimits{});
//   for (int k = 0; k < batches.num_batches(); ++k) {
//       std::vector<size_t> ok;
//       std::vector<vit::ImageFailure> failed;
//       const float* x = batches.wait_decoded(k, ok, failed);  // ok.size() images, contiguous
//       runner.forward(x, int(ok.size()));                       // (skip the batch when ok is empty)
//       batches.release(k);
//   }
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "vit/image/header.hpp"
#include "vit/image/preprocess.hpp"

namespace vit {

struct ImageInputs {
    // Folders recursively, in sorted path order, keeping the files with one of image_extensions();
    // files named explicitly are always kept, whatever their name.
    std::vector<std::string> paths;
    // Per path: relative to the folder it was found in, or the file name of a file named directly.
    std::vector<std::string> relative;
    // One line per input that failed, missing or not completely readable ("skipping photos/: no such
    // file or directory"): one bad argument should not cost the other results.
    std::vector<std::string> problems;
};
ImageInputs collect_image_inputs(const std::vector<std::string>& inputs);

struct ImageFailure {
    size_t index = 0;  // into the paths
    std::string reason;
};

// Decodes and preprocesses images on worker threads into a ring of `depth` batch buffers of (batch,
// C, H, W) floats. Batch k is written only while k < released + depth, which bounds memory and keeps
// the workers just ahead of the model. An image that fails (unreadable, corrupt, above the limits)
// never stops the others: it is reported with its reason.
class ImageBatches {
public:
    ImageBatches(std::vector<std::string> paths, const PreprocessConfig& pre, int batch, int workers,
                 const ImageLimits& limits, int depth = 3);
    ~ImageBatches();
    ImageBatches(const ImageBatches&) = delete;
    ImageBatches& operator=(const ImageBatches&) = delete;

    int num_batches() const;
    int batch_count(int k) const;  // images in batch k
    size_t image_floats() const;   // C * H * W

    // Blocks until every image of batch k is decoded or has failed; the buffer holds batch_count(k)
    // images in path order and errors[j] is empty for each that decoded.
    float* wait(int k, std::vector<std::string>& errors);
    // wait(), then the decoded images moved together to the front of the buffer so that the model sees
    // a contiguous batch: ok receives their indices into the paths, failed the others.
    float* wait_decoded(int k, std::vector<size_t>& ok, std::vector<ImageFailure>& failed);
    // Hands batch k's buffer back to the workers, for batch k + depth.
    void release(int k);
    // Seconds spent in wait() so far: the time the model had nothing to run because decoding lagged.
    double wait_seconds() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vit
