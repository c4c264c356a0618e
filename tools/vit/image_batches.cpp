#include "image_batches.hpp"

#include <algorithm>
#include <cstring>

#include <opencv2/core.hpp>

namespace fs = std::filesystem;

namespace vit_cli {

std::vector<std::string> collect_inputs(const std::vector<std::string>& inputs, size_t& failed,
                                        std::vector<std::string>* relative) {
    std::vector<std::string> files;
    for (const auto& input : inputs) {
        std::error_code ec;
        const fs::file_status st = fs::status(input, ec);
        if (ec || !fs::exists(st)) {
            warn("skipping " + input + ": no such file or directory");
            ++failed;
            continue;
        }
        if (!fs::is_directory(st)) {
            files.push_back(input);
            if (relative) relative->push_back(fs::path(input).filename().string());
            continue;
        }
        std::vector<std::string> found;
        try {
            fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied), end;
            for (; it != end; ++it) {
                std::error_code type_ec;
                if (it->is_regular_file(type_ec) && vit::has_image_extension(it->path().string()))
                    found.push_back(it->path().string());
            }
        } catch (const fs::filesystem_error& e) {
            warn("cannot read folder " + input + " completely: " + e.code().message());
            ++failed;
        }
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
        if (relative)
            for (const auto& f : found) relative->push_back(fs::path(f).lexically_relative(input).string());
    }
    return files;
}

float* ImageBatches::wait_decoded(int k, std::vector<size_t>& ok, size_t& failed) {
    std::vector<std::string> errors;
    float* x = wait(k, errors);
    ok.clear();
    for (size_t j = 0; j < errors.size(); ++j) {
        const size_t index = size_t(k) * batch_ + j;
        if (!errors[j].empty()) {
            warn("skipping " + paths_[index] + ": " + errors[j]);
            ++failed;
            continue;
        }
        if (ok.size() != j) std::memmove(x + ok.size() * image_floats_, x + j * image_floats_, image_floats_ * sizeof(float));
        ok.push_back(index);
    }
    return x;
}

void ImageBatches::work() {
    for (;;) {
        size_t i;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            space_.wait(lock, [&] {
                return stop_ || next_ >= paths_.size() || static_cast<int>(next_ / batch_) < released_ + depth_;
            });
            if (stop_ || next_ >= paths_.size()) return;
            i = next_++;
        }
        Slot& slot = slots_[(i / batch_) % depth_];
        float* dst = slot.data.data() + (i % batch_) * image_floats_;
        std::string error;
        // A worker must never throw: the error becomes this image's warning instead.
        try {
            vit::preprocess(vit::load_image(paths_[i], pre_.channels, limits_), pre_, dst);
        } catch (const vit::Error& e) {
            error = e.what();
        } catch (const cv::Exception& e) {
            error = "OpenCV: " + e.err;
        } catch (const std::exception& e) {
            error = e.what();
        } catch (...) {
            error = "unknown failure";
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            slot.errors[i % batch_] = std::move(error);
            ++slot.done;
        }
        ready_.notify_all();
    }
}

}  // namespace vit_cli
