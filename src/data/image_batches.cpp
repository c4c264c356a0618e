#include "vit/data/image_batches.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <opencv2/core.hpp>

#include "image/cv_image.hpp"
#include "util/worker_threads.hpp"
#include "vit/image/extensions.hpp"
#include "vit/util/error.hpp"

namespace fs = std::filesystem;

namespace vit {

ImageInputs collect_image_inputs(const std::vector<std::string>& inputs) {
    ImageInputs out;
    for (const auto& input : inputs) {
        std::error_code ec;
        const fs::file_status st = fs::status(input, ec);
        if (ec || !fs::exists(st)) {
            out.problems.push_back("skipping " + input + ": no such file or directory");
            continue;
        }
        if (!fs::is_directory(st)) {
            out.paths.push_back(input);
            out.relative.push_back(fs::path(input).filename().string());
            continue;
        }
        std::vector<std::string> found;
        try {
            fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied), end;
            for (; it != end; ++it) {
                std::error_code type_ec;
                if (it->is_regular_file(type_ec) && has_image_extension(it->path().string()))
                    found.push_back(it->path().string());
            }
        } catch (const fs::filesystem_error& e) {
            out.problems.push_back("cannot read folder " + input + " completely: " + e.code().message());
        }
        std::sort(found.begin(), found.end());
        out.paths.insert(out.paths.end(), found.begin(), found.end());
        for (const auto& f : found) out.relative.push_back(fs::path(f).lexically_relative(input).string());
    }
    return out;
}

struct ImageBatches::Impl {
    struct Slot {
        std::vector<float> data;
        std::vector<std::string> errors;
        int done = 0;
    };

    const std::vector<std::string> paths;
    const PreprocessConfig pre;
    const ImageLimits limits;
    const size_t batch;
    const int depth;
    const size_t image_floats;
    std::vector<Slot> slots;
    std::mutex mutex;
    std::condition_variable space, ready;
    size_t next = 0;
    int released = 0;
    double waited = 0;  // read and written by the consumer thread only
    bool stop = false;
    WorkerThreads workers;  // last: stopped and joined before the rest goes

    Impl(std::vector<std::string> p, const PreprocessConfig& pc, int b, const ImageLimits& l, int d)
        : paths(std::move(p)), pre(pc), limits(l), batch(size_t(b)), depth(d),
          image_floats(size_t(pc.channels) * pc.height * pc.width) {
        for (int s = 0; s < depth; ++s) slots.push_back(Slot{std::vector<float>(image_floats * batch), std::vector<std::string>(batch), 0});
    }

    int batch_count(int k) const { return static_cast<int>(std::min(batch, paths.size() - size_t(k) * batch)); }

    void work() {
        for (;;) {
            size_t i;
            {
                std::unique_lock<std::mutex> lock(mutex);
                space.wait(lock, [&] {
                    return stop || next >= paths.size() || static_cast<int>(next / batch) < released + depth;
                });
                if (stop || next >= paths.size()) return;
                i = next++;
            }
            Slot& slot = slots[(i / batch) % size_t(depth)];
            float* dst = slot.data.data() + (i % batch) * image_floats;
            std::string error;
            // A worker must never throw: the error becomes this image's failure instead.
            try {
                preprocess(load_image(paths[i], pre.channels, limits), pre, dst);
            } catch (const Error& e) {
                error = e.what();
            } catch (const cv::Exception& e) {
                error = "OpenCV: " + e.err;
            } catch (const std::exception& e) {
                error = e.what();
            } catch (...) {
                error = "unknown failure";
            }
            {
                std::lock_guard<std::mutex> lock(mutex);
                slot.errors[i % batch] = std::move(error);
                ++slot.done;
            }
            ready.notify_all();
        }
    }
};

ImageBatches::ImageBatches(std::vector<std::string> paths, const PreprocessConfig& pre, int batch, int workers,
                           const ImageLimits& limits, int depth) {
    if (batch <= 0) throw ConfigError("ImageBatches: batch must be positive, got " + std::to_string(batch));
    if (depth <= 0) throw ConfigError("ImageBatches: depth must be positive, got " + std::to_string(depth));
    impl_ = std::make_unique<Impl>(std::move(paths), pre, batch, limits, depth);
    Impl* impl = impl_.get();
    const int n = static_cast<int>(std::min<size_t>(size_t(std::max(workers, 1)), impl->paths.size()));
    impl->workers.start(
        n, [impl](int) { impl->work(); },
        [impl] {
            {
                std::lock_guard<std::mutex> lock(impl->mutex);
                impl->stop = true;
            }
            impl->space.notify_all();
        });
}

ImageBatches::~ImageBatches() { impl_->workers.join(); }

int ImageBatches::num_batches() const { return static_cast<int>((impl_->paths.size() + impl_->batch - 1) / impl_->batch); }
int ImageBatches::batch_count(int k) const { return impl_->batch_count(k); }
size_t ImageBatches::image_floats() const { return impl_->image_floats; }
double ImageBatches::wait_seconds() const { return impl_->waited; }

float* ImageBatches::wait(int k, std::vector<std::string>& errors) {
    Impl& m = *impl_;
    Impl::Slot& slot = m.slots[size_t(k % m.depth)];
    std::unique_lock<std::mutex> lock(m.mutex);
    const auto start = std::chrono::steady_clock::now();
    m.ready.wait(lock, [&] { return slot.done == m.batch_count(k); });
    m.waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    errors.assign(slot.errors.begin(), slot.errors.begin() + m.batch_count(k));
    return slot.data.data();
}

float* ImageBatches::wait_decoded(int k, std::vector<size_t>& ok, std::vector<ImageFailure>& failed) {
    std::vector<std::string> errors;
    float* x = wait(k, errors);
    const size_t floats = impl_->image_floats;
    ok.clear();
    failed.clear();
    for (size_t j = 0; j < errors.size(); ++j) {
        const size_t index = size_t(k) * impl_->batch + j;
        if (!errors[j].empty()) {
            failed.push_back({index, errors[j]});
            continue;
        }
        if (ok.size() != j) std::memmove(x + ok.size() * floats, x + j * floats, floats * sizeof(float));
        ok.push_back(index);
    }
    return x;
}

void ImageBatches::release(int k) {
    Impl& m = *impl_;
    {
        std::lock_guard<std::mutex> lock(m.mutex);
        Impl::Slot& slot = m.slots[size_t(k % m.depth)];
        slot.done = 0;
        std::fill(slot.errors.begin(), slot.errors.end(), std::string());
        ++m.released;
    }
    m.space.notify_all();
}

}  // namespace vit
