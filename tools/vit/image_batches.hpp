// Image inputs of the `vit` program: expanding files and folders into image paths, and decoding and
// preprocessing them on worker threads into batches ahead of the model.
#pragma once
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"

namespace vit_cli {

// Expands INPUTs to image paths: folders recursively, in sorted path order, keeping the files with
// one of vit::image_extensions() (files named explicitly are always tried, whatever their name). Missing inputs and
// unreadable folders are reported here and counted as failures rather than aborting the run: one bad
// argument should not cost the other results. relative (optional) receives, per path, its path
// relative to the folder it was found in, or the file name for a file named directly.
std::vector<std::string> collect_inputs(const std::vector<std::string>& inputs, size_t& failed,
                                        std::vector<std::string>* relative = nullptr);

// Decodes and preprocesses images on worker threads into a ring of `depth` batch buffers. Batch k is
// written only while k < released + depth, which bounds memory and keeps the workers just ahead of the
// model.
class ImageBatches {
public:
    ImageBatches(const std::vector<std::string>& paths, const vit::PreprocessConfig& pre, int batch, int workers,
                 const vit::ImageLimits& limits, int depth = 3)
        : paths_(paths), pre_(pre), limits_(limits), batch_(batch), depth_(depth),
          image_floats_(static_cast<size_t>(pre.channels) * pre.height * pre.width) {
        for (int s = 0; s < depth_; ++s) {
            slots_.push_back(Slot{std::vector<float>(image_floats_ * batch_), std::vector<std::string>(batch_), 0});
        }
        const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(workers, 1)), paths.size()));
        try {
            for (int i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
        } catch (...) {
            // The destructor does not run for a half-built object; joinable threads would terminate().
            stop_and_join();
            throw;
        }
    }

    ~ImageBatches() { stop_and_join(); }

    int num_batches() const { return static_cast<int>((paths_.size() + batch_ - 1) / batch_); }
    int batch_count(int k) const { return static_cast<int>(std::min<size_t>(batch_, paths_.size() - size_t(k) * batch_)); }
    size_t image_floats() const { return image_floats_; }

    // Blocks until every image of batch k is decoded (or has failed). errors[j] is empty on success.
    float* wait(int k, std::vector<std::string>& errors) {
        Slot& slot = slots_[k % depth_];
        std::unique_lock<std::mutex> lock(mutex_);
        const auto start = std::chrono::steady_clock::now();
        ready_.wait(lock, [&] { return slot.done == batch_count(k); });
        waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        errors.assign(slot.errors.begin(), slot.errors.begin() + batch_count(k));
        return slot.data.data();
    }

    // Seconds spent in wait() so far: the time the model had nothing to run because decoding lagged.
    double wait_seconds() const { return waited_; }

    // wait(), then the images that failed are reported ("skipping PATH: reason") and counted in
    // failed, and the decoded ones moved together to the front of the buffer, so that the model sees
    // a contiguous batch; ok receives their indices into paths.
    float* wait_decoded(int k, std::vector<size_t>& ok, size_t& failed);

    // Hands batch k's buffer back to the workers for batch k + depth.
    void release(int k) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            Slot& slot = slots_[k % depth_];
            slot.done = 0;
            std::fill(slot.errors.begin(), slot.errors.end(), std::string());
            ++released_;
        }
        space_.notify_all();
    }

private:
    struct Slot {
        std::vector<float> data;
        std::vector<std::string> errors;
        int done;
    };

    void stop_and_join() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        space_.notify_all();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

    void work();

    const std::vector<std::string>& paths_;
    const vit::PreprocessConfig pre_;
    const vit::ImageLimits limits_;
    const size_t batch_;
    const int depth_;
    const size_t image_floats_;
    std::vector<Slot> slots_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable space_, ready_;
    size_t next_ = 0;
    int released_ = 0;
    double waited_ = 0;  // wait_seconds(); read and written by the consumer thread only
    bool stop_ = false;
};

}  // namespace vit_cli
