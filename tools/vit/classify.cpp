// `vit classify`: top-k labels for images and folders of images.
//
// Decoding and preprocessing run on a few worker threads that fill a ring of batch buffers ahead of the
// model, so JPEG decoding overlaps with the forward pass; results still come out in input order.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common.hpp"

namespace fs = std::filesystem;

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit classify --model M [options] INPUT...\n\n"
    "Classifies images. INPUTs are image files or folders; folders are searched recursively for\n"
    "jpg jpeg png bmp tif tiff webp ppm pgm pnm files (any case), in sorted path order.\n"
    "Unreadable images are skipped with a warning and make the exit status 1.\n\n";

// Extensions looked for inside folders. Files named explicitly are always tried, whatever their name.
bool has_image_extension(const fs::path& p) {
    static const std::set<std::string> kExtensions = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                                      ".webp", ".ppm", ".pgm", ".pnm"};
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return kExtensions.count(ext) > 0;
}

// Expands INPUTs to image paths. Missing inputs and unreadable folders are reported here and counted
// as failures rather than aborting the run: one bad argument should not cost the other results.
std::vector<std::string> collect_inputs(const std::vector<std::string>& inputs, size_t& failed) {
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
            continue;
        }
        std::vector<std::string> found;
        try {
            fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied), end;
            for (; it != end; ++it) {
                std::error_code type_ec;
                if (it->is_regular_file(type_ec) && has_image_extension(it->path()))
                    found.push_back(it->path().string());
            }
        } catch (const fs::filesystem_error& e) {
            warn("cannot read folder " + input + " completely: " + e.code().message());
            ++failed;
        }
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

// Decodes and preprocesses images on worker threads into a ring of `depth` batch buffers. Batch k is
// written only while k < released + depth, which bounds memory and keeps the workers just ahead of the
// model.
class BatchLoader {
public:
    BatchLoader(const std::vector<std::string>& paths, const vit::PreprocessConfig& pre, int batch, int workers,
                int depth = 3)
        : paths_(paths), pre_(pre), batch_(batch), depth_(depth),
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

    ~BatchLoader() { stop_and_join(); }

    int num_batches() const { return static_cast<int>((paths_.size() + batch_ - 1) / batch_); }
    int batch_count(int k) const { return static_cast<int>(std::min<size_t>(batch_, paths_.size() - size_t(k) * batch_)); }
    size_t image_floats() const { return image_floats_; }

    // Blocks until every image of batch k is decoded (or has failed). errors[j] is empty on success.
    float* wait(int k, std::vector<std::string>& errors) {
        Slot& slot = slots_[k % depth_];
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return slot.done == batch_count(k); });
        errors.assign(slot.errors.begin(), slot.errors.begin() + batch_count(k));
        return slot.data.data();
    }

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

    void work() {
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
                vit::preprocess(vit::load_image(paths_[i], pre_.channels), pre_, dst);
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

    const std::vector<std::string>& paths_;
    const vit::PreprocessConfig pre_;
    const size_t batch_;
    const int depth_;
    const size_t image_floats_;
    std::vector<Slot> slots_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable space_, ready_;
    size_t next_ = 0;
    int released_ = 0;
    bool stop_ = false;
};

// RFC 4180: quote fields holding a separator, quote or line break; double the quotes inside.
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos && (s.empty() || (s.front() != ' ' && s.back() != ' ')))
        return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string format_prob(float p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(p));
    return buf;
}

class ResultWriter {
public:
    ResultWriter(std::ostream& out, bool json, int k) : out_(out), json_(json), k_(k) {
        if (!json_) {
            out_ << "path";
            for (int r = 1; r <= k_; ++r) out_ << ",top" << r << "_label,top" << r << "_prob";
            out_ << "\n";
        }
    }

    void row(const std::string& path, const float* probs, int classes, const std::vector<std::string>& labels) {
        std::vector<int> order(classes);
        std::iota(order.begin(), order.end(), 0);
        // Ties go to the lower class index so the output is deterministic.
        std::partial_sort(order.begin(), order.begin() + k_, order.end(),
                          [&](int a, int b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
        if (json_) {
            nlohmann::json top = nlohmann::json::array();
            for (int r = 0; r < k_; ++r)
                top.push_back({{"label", labels[order[r]]}, {"index", order[r]}, {"prob", probs[order[r]]}});
            const nlohmann::json obj = {{"path", path}, {"top_k", top}};
            out_ << (rows_ == 0 ? "[\n  " : ",\n  ")
                 << obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        } else {
            out_ << csv_field(path);
            for (int r = 0; r < k_; ++r) out_ << ',' << csv_field(labels[order[r]]) << ',' << format_prob(probs[order[r]]);
            out_ << "\n";
        }
        ++rows_;
    }

    void finish() {
        if (json_) out_ << (rows_ == 0 ? "[]\n" : "\n]\n");
        out_.flush();
    }

private:
    std::ostream& out_;
    bool json_;
    int k_;
    size_t rows_ = 0;
};

int default_workers() {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<int>(std::clamp(hw / 2, 1u, 4u));
}

}  // namespace

int run_classify(const std::vector<std::string>& args) {
    po::options_description options("options");
    // clang-format off
    options.add_options()
        ("help,h", "show this help")
        ("model,m", po::value<std::string>(), "checkpoint: native .safetensors file, timm or Hugging Face folder (required)")
        ("top-k,k", po::value<int>()->default_value(5), "labels per image")
        ("batch,b", po::value<int>()->default_value(16), "images per forward pass")
        ("threads,t", po::value<int>()->default_value(0), "compute threads (0: all cores)")
        ("workers", po::value<int>()->default_value(default_workers()), "image decoding threads")
        ("img-size", po::value<std::string>(), "run at another input size, N or HxW (resamples pos_embed)")
        ("format,f", po::value<std::string>()->default_value("csv"), "csv or json")
        ("output,o", po::value<std::string>(), "write results to FILE (atomically) instead of stdout");
    // clang-format on
    // INPUTs are positional only; kept out of the help text, which lists flags.
    po::options_description hidden;
    hidden.add_options()("input", po::value<std::vector<std::string>>());
    po::options_description all;
    all.add(options).add(hidden);
    po::positional_options_description positional;
    positional.add("input", -1);
    std::ostringstream usage_text;
    usage_text << kUsage << options;
    const std::string usage = usage_text.str();

    return guarded("classify", usage, [&]() -> int {
        po::variables_map vm;
        parse_args(args, all, &positional, vm);
        if (vm.count("help")) {
            std::cout << usage;
            return kExitOk;
        }
        if (!vm.count("model")) throw UsageError("the option '--model' is required but missing");
        if (!vm.count("input")) throw UsageError("no INPUT given (image files or folders)");
        const int top_k = vm["top-k"].as<int>();
        const int batch = vm["batch"].as<int>();
        const int threads = vm["threads"].as<int>();
        const int workers = vm["workers"].as<int>();
        const std::string format = vm["format"].as<std::string>();
        if (top_k < 1) throw UsageError("--top-k must be >= 1, got " + std::to_string(top_k));
        if (batch < 1) throw UsageError("--batch must be >= 1, got " + std::to_string(batch));
        if (workers < 1) throw UsageError("--workers must be >= 1, got " + std::to_string(workers));
        if (format != "csv" && format != "json") throw UsageError("--format must be csv or json, got '" + format + "'");
        const std::string img_size = vm.count("img-size") ? vm["img-size"].as<std::string>() : "";
        if (!img_size.empty()) parse_img_size(img_size);  // report a malformed size before the slow load
        set_threads(threads);
        // Images are decoded in parallel by our own workers; OpenCV's internal threads on top of them
        // would only oversubscribe the cores the model needs.
        cv::setNumThreads(0);

        const std::string model_path = vm["model"].as<std::string>();
        // The checkpoint is a temporary: its weights are copied into the model and need not stay.
        const vit::Model model(load_model_checkpoint(model_path, img_size));
        report_unused(model, model_path);
        const int classes = model.config().num_classes;
        const int k = std::min(top_k, classes);
        const std::vector<std::string>& labels = model.labels();
        if (static_cast<int>(labels.size()) != classes)
            throw vit::ConfigError(model_path + ": " + std::to_string(labels.size()) + " labels for " +
                                   std::to_string(classes) + " classes");

        size_t failed = 0;
        const std::vector<std::string> paths = collect_inputs(vm["input"].as<std::vector<std::string>>(), failed);
        if (paths.empty()) throw vit::IoError("no images found in the given inputs");

        std::unique_ptr<AtomicFile> file;
        if (vm.count("output")) file = std::make_unique<AtomicFile>(vm["output"].as<std::string>());
        std::ostream& out = file ? file->stream() : std::cout;
        ResultWriter writer(out, format == "json", k);

        const auto start = std::chrono::steady_clock::now();
        const int runner_batch = static_cast<int>(std::min<size_t>(batch, paths.size()));
        vit::Runner runner(model, runner_batch, vit::RunOptions{false, threads});
        BatchLoader loader(paths, model.preprocess(), runner_batch, workers);
        std::vector<float> probs(static_cast<size_t>(runner_batch) * classes);
        std::vector<std::string> errors;
        std::vector<size_t> ok;
        size_t classified = 0;
        const size_t floats = loader.image_floats();
        for (int b = 0; b < loader.num_batches(); ++b) {
            float* x = loader.wait(b, errors);
            // Failed images leave holes; close them so the model sees a contiguous batch.
            ok.clear();
            for (size_t j = 0; j < errors.size(); ++j) {
                const size_t index = size_t(b) * runner_batch + j;
                if (!errors[j].empty()) {
                    warn("skipping " + paths[index] + ": " + errors[j]);
                    ++failed;
                    continue;
                }
                if (ok.size() != j) std::memmove(x + ok.size() * floats, x + j * floats, floats * sizeof(float));
                ok.push_back(index);
            }
            const int n = static_cast<int>(ok.size());
            if (n > 0) {
                const float* logits = runner.forward(x, n);
                vit::softmax_rows(logits, n, classes, probs.data());
            }
            loader.release(b);
            for (int j = 0; j < n; ++j) writer.row(paths[ok[j]], probs.data() + size_t(j) * classes, classes, labels);
            classified += n;
        }
        writer.finish();
        if (file) {
            file->commit();
        } else if (!std::cout) {
            throw vit::IoError("cannot write results to standard output");
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        char summary[160];
        std::snprintf(summary, sizeof summary, "classified %zu images (%zu failed) in %.2f s, %.1f images/s",
                      classified, failed, seconds, seconds > 0 ? classified / seconds : 0.0);
        info(summary);
        return failed > 0 ? kExitFailure : kExitOk;
    });
}

}  // namespace vit_cli
