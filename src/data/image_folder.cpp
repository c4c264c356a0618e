// The image-folder reader: the class folders of the train (and test) split are listed. A cached folder
// then has every image decoded on a pool of worker threads into its own slot of the dataset, and the
// images that fail to decode are dropped afterwards, so that the result does not depend on the threads'
// timing. A streamed folder stops after the listing: the batch loader decodes each file when a batch
// needs it (data/image_reader.hpp fits both alike).
#include "data/image_folder.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "data/dataset_ops.hpp"
#include "data/image_reader.hpp"
#include "util/worker_threads.hpp"
#include "vit/util/memory.hpp"
#include "vit/util/error.hpp"
#include "vit/image/extensions.hpp"
#include "vit/image/header.hpp"
#include "vit/image/preprocess.hpp"
#include "image/cv_image.hpp"

namespace fs = std::filesystem;

namespace vit::data_detail {
namespace {

constexpr size_t kMaxIndividualWarnings = 5;

// Where the splits are and which classes they hold.
struct FolderLayout {
    fs::path train_dir, test_dir;  // test_dir empty: no test split
    std::vector<std::string> classes;
    bool has_test() const { return !test_dir.empty(); }
};

// One image to decode and the class it belongs to.
struct ImageJob {
    std::string path;
    int label;
};

// The channels and size every image is brought to.
struct ImageShape {
    int channels = 0, height = 0, width = 0;
    size_t bytes() const { return size_t(height) * width * channels; }
};

// A skipped or resized image, by its index in the job list so that warnings come in file order.
struct Issue {
    size_t index;
    std::string message;
};

// What the decoding pool leaves besides the pixels.
struct Decoded {
    std::vector<uint8_t> ok;  // bytes, not vector<bool>: each worker writes its own element
    std::vector<Issue> corrupt, resized;
};

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
}

// Sub-folder names, sorted bytewise (as Python's sorted() on str for ASCII names, which is what
// torchvision's ImageFolder uses, so class indices agree with it). Hidden folders (".git",
// ".ipynb_checkpoints") are not classes.
std::vector<std::string> list_class_dirs(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] != '.' && is_dir(it->path())) names.push_back(name);
    }
    if (ec) throw IoError("cannot list folder '" + dir.string() + "': " + ec.message());
    std::sort(names.begin(), names.end());
    return names;
}

// The image files directly inside a class folder (not recursive), sorted.
std::vector<std::string> list_images(const fs::path& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        const std::string name = p.filename().string();
        if (!name.empty() && name[0] != '.' && has_image_extension(p.string()) && is_file(p))
            files.push_back(p.string());
    }
    if (ec) throw IoError("cannot list folder '" + dir.string() + "': " + ec.message());
    std::sort(files.begin(), files.end());
    return files;
}

// ConfigError listing the classes missing from, or only in, the test split (with a class subset, only
// the missing ones matter).
void require_same_classes(const FolderLayout& layout, bool subset) {
    auto test_classes = list_class_dirs(layout.test_dir);
    const auto& classes = layout.classes;
    if (subset) {
        std::vector<std::string> kept;
        std::set_intersection(test_classes.begin(), test_classes.end(), classes.begin(), classes.end(),
                              std::back_inserter(kept));
        test_classes = kept;
    }
    if (test_classes == classes) return;
    std::vector<std::string> missing, extra;
    std::set_difference(classes.begin(), classes.end(), test_classes.begin(), test_classes.end(),
                        std::back_inserter(missing));
    std::set_difference(test_classes.begin(), test_classes.end(), classes.begin(), classes.end(),
                        std::back_inserter(extra));
    std::string msg = "class folders of '" + layout.test_dir.string() + "' differ from those of '" +
                      layout.train_dir.string() + "'";
    if (!missing.empty()) msg += "; missing in test: " + join(missing);
    if (!extra.empty()) msg += "; only in test: " + join(extra);
    throw ConfigError(msg);
}

// root/train and root/test when both exist, root/train alone, or root itself as the training split.
FolderLayout locate_splits(const fs::path& root, const LoadOptions& opts) {
    FolderLayout layout;
    layout.train_dir = root;
    if (is_dir(root / "train")) {
        layout.train_dir = root / "train";
        if (is_dir(root / "test")) layout.test_dir = root / "test";
    }
    layout.classes = list_class_dirs(layout.train_dir);
    if (layout.classes.empty()) throw ConfigError("no class folders in " + layout.train_dir.string());
    if (!opts.classes.empty()) {
        std::vector<std::string> wanted = opts.classes, missing;
        std::sort(wanted.begin(), wanted.end());
        if (std::adjacent_find(wanted.begin(), wanted.end()) != wanted.end())
            throw ConfigError("the class list names a class twice: " + join(opts.classes));
        std::set_difference(wanted.begin(), wanted.end(), layout.classes.begin(), layout.classes.end(),
                            std::back_inserter(missing));
        if (!missing.empty())
            throw ConfigError("no class folder " + join(missing) + " in " + layout.train_dir.string() + " (it has " +
                              join(layout.classes) + ")");
        layout.classes = wanted;
    }
    if (layout.has_test()) {
        require_same_classes(layout, !opts.classes.empty());
    } else {
        require_val_split(opts, layout.train_dir == root
                                    ? "image folder '" + root.string() + "' (no train/ and test/ sub-folders)"
                                    : "image folder '" + root.string() + "' (no test/ sub-folder)");
    }
    return layout;
}

void add_class_images(const fs::path& split_dir, const std::vector<std::string>& classes, std::vector<ImageJob>& jobs) {
    for (size_t c = 0; c < classes.size(); ++c) {
        const fs::path dir = split_dir / classes[c];
        const auto files = list_images(dir);
        if (files.empty()) {
            std::string looked_for;
            for (const auto& ext : image_extensions()) looked_for += (looked_for.empty() ? "" : " ") + ext;
            throw ConfigError("class folder '" + dir.string() + "' has no images (looked for " + looked_for +
                              " directly inside it)");
        }
        for (const auto& f : files) jobs.push_back({f, static_cast<int>(c)});
    }
}

// The shape asked for in opts, completed (where it is 0) from the first training image that decodes.
// The data's own channel count is its decoded count before any conversion: gray (with or without
// alpha) is 1, anything else 3.
ImageShape target_shape(const std::vector<ImageJob>& jobs, size_t n_train, const LoadOptions& opts) {
    ImageShape shape{opts.channels, opts.height, opts.width};
    if (opts.eval_transform) shape = {opts.eval_transform->channels, opts.eval_transform->height, opts.eval_transform->width};
    if (shape.channels && shape.height && shape.width) return shape;
    for (size_t i = 0; i < n_train; ++i) {
        try {
            const std::vector<uint8_t> bytes = read_file(jobs[i].path);
            if (bytes.empty()) continue;
            check_image_header(bytes, opts.image_limits, jobs[i].path);
            cv::Mat raw = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
            if (raw.empty()) continue;
            if (!shape.channels) shape.channels = raw.channels() <= 2 ? 1 : 3;
            if (!shape.height) shape.height = raw.rows;
            if (!shape.width) shape.width = raw.cols;
            return shape;
        } catch (const Error&) {
        } catch (const cv::Exception&) {
        }
    }
    throw ConfigError("none of the " + std::to_string(n_train) + " training images could be decoded");
}

// Runs work(i) for every i in [0, n) on `threads` workers that take the next index from a shared
// counter, while the calling thread reports progress every 100 ms (so the callback never runs
// concurrently with itself). An exception escaping work stops the other workers and is rethrown here.
void parallel_for(size_t n, size_t threads, const std::function<void(size_t)>& work, const LoadOptions& opts) {
    std::mutex mu;
    std::condition_variable cv_done;
    std::atomic<size_t> next{0}, done{0};
    std::exception_ptr fatal;
    int running = static_cast<int>(threads);
    auto worker = [&] {
        for (;;) {
            const size_t i = next.fetch_add(1);
            if (i >= n) break;
            try {
                work(i);
            } catch (...) {
                std::lock_guard<std::mutex> lk(mu);
                if (!fatal) fatal = std::current_exception();
                next.store(n);  // stop the other workers early
            }
            done.fetch_add(1);
        }
        std::lock_guard<std::mutex> lk(mu);
        --running;
        cv_done.notify_all();
    };
    WorkerThreads pool;
    pool.start(static_cast<int>(threads), [&](int) { worker(); });
    {
        std::unique_lock<std::mutex> lk(mu);
        while (running > 0) {
            cv_done.wait_for(lk, std::chrono::milliseconds(100));
            if (opts.progress && running > 0) {
                const size_t d = done.load();
                lk.unlock();
                opts.progress(d, n);
                lk.lock();
            }
        }
    }
    pool.join();
    if (fatal) std::rethrow_exception(fatal);
    if (opts.progress) opts.progress(n, n);
}

// Decodes every job into its own slot (train images first, then test), so that no two threads write
// the same bytes. Images that cannot be decoded are noted, not fatal; other sizes are resized.
Decoded decode_all(const std::vector<ImageJob>& jobs, size_t n_train, const ImageShape& shape, DataSplit& s,
                   const LoadOptions& opts) {
    const size_t n = jobs.size(), sz = shape.bytes();
    s.train.pixels.resize(n_train * sz);
    s.test.pixels.resize((n - n_train) * sz);
    Decoded out;
    out.ok.assign(n, 0);
    std::mutex mu;
    auto note = [&](std::vector<Issue>& list, size_t i, std::string message) {
        std::lock_guard<std::mutex> lk(mu);
        list.push_back({i, std::move(message)});
    };
    auto decode_one = [&](size_t i) {
        const ImageJob& job = jobs[i];
        uint8_t* dst = i < n_train ? s.train.pixels.data() + i * sz : s.test.pixels.data() + (i - n_train) * sz;
        try {
            cv::Mat m = load_image(job.path, shape.channels, opts.image_limits);
            if (opts.eval_transform) {
                m = fit_image(m, shape.height, shape.width, opts.eval_transform);
            } else if (m.rows != shape.height || m.cols != shape.width) {
                std::string message = "resized '" + job.path + "' from " + std::to_string(m.cols) + "x" +
                                      std::to_string(m.rows) + " to " + std::to_string(shape.width) + "x" +
                                      std::to_string(shape.height);
                m = resize_to(m, shape.height, shape.width);
                note(out.resized, i, std::move(message));
            }
            copy_into(m, dst);
            out.ok[i] = 1;
        } catch (const Error& e) {
            note(out.corrupt, i, "skipped image '" + job.path + "': " + e.what());
        } catch (const cv::Exception& e) {
            note(out.corrupt, i, "skipped image '" + job.path + "': " + e.what());
        }
    };
    size_t threads = opts.threads > 0 ? size_t(opts.threads) : std::max(1u, std::thread::hardware_concurrency());
    threads = std::max<size_t>(1, std::min(threads, n));
    parallel_for(n, threads, decode_one, opts);
    return out;
}

// Emits the first few issues one by one, then one line with the total, so that a folder of
// thousands of odd images does not drown the log.
void report(const LoadOptions& opts, std::vector<Issue>& issues, const std::string& total_line) {
    if (!opts.warn || issues.empty()) return;
    std::sort(issues.begin(), issues.end(), [](const Issue& a, const Issue& b) { return a.index < b.index; });
    for (size_t i = 0; i < issues.size() && i < kMaxIndividualWarnings; ++i) opts.warn(issues[i].message);
    if (issues.size() > kMaxIndividualWarnings) opts.warn(total_line);
}

// Squeezes out the slots of images that failed to decode.
void drop_failed(const std::vector<ImageJob>& jobs, size_t n_train, const std::vector<uint8_t>& ok,
                       DataSplit& s) {
    const size_t n = jobs.size();
    std::vector<size_t> keep_train, keep_test;
    for (size_t i = 0; i < n; ++i) {
        if (i < n_train) {
            if (ok[i]) keep_train.push_back(i);
        } else {
            if (ok[i]) keep_test.push_back(i - n_train);
        }
    }
    if (keep_train.size() != n_train) compact(s.train, keep_train);
    if (keep_test.size() != n - n_train) compact(s.test, keep_test);
}

// Cache::Auto's choice: the decoded images of both splits within opts.cache_share of the memory
// available now.
bool keep_in_memory(size_t images, const ImageShape& shape, const LoadOptions& opts) {
    switch (opts.cache) {
        case Cache::Decoded: return true;
        case Cache::None: return false;
        case Cache::Auto: break;
    }
    return double(images) * double(shape.bytes()) <= opts.cache_share * double(available_memory_bytes());
}

}  // namespace

DataSplit load_image_folder(const fs::path& root, const LoadOptions& opts) {
    const FolderLayout layout = locate_splits(root, opts);
    std::vector<ImageJob> jobs;
    add_class_images(layout.train_dir, layout.classes, jobs);
    const size_t n_train = jobs.size();
    if (layout.has_test()) add_class_images(layout.test_dir, layout.classes, jobs);

    const ImageShape shape = target_shape(jobs, n_train, opts);
    DataSplit s;
    s.train = empty_like(shape.channels, shape.height, shape.width, layout.classes);
    s.test = empty_like(shape.channels, shape.height, shape.width, layout.classes);
    for (size_t i = 0; i < jobs.size(); ++i) {
        Dataset& d = i < n_train ? s.train : s.test;
        d.files.push_back(jobs[i].path);
        d.labels.push_back(jobs[i].label);
    }
    for (Dataset* d : {&s.train, &s.test}) {
        d->eval_transform = opts.eval_transform;
        d->image_limits = opts.image_limits;
    }
    if (!keep_in_memory(jobs.size(), shape, opts)) {
        split_or_warn(s, layout.has_test(), opts, "image folder '" + root.string() + "'");
        return s;
    }
    Decoded decoded = decode_all(jobs, n_train, shape, s, opts);
    report(opts, decoded.corrupt,
           std::to_string(decoded.corrupt.size()) + " images in total could not be decoded and were skipped");
    report(opts, decoded.resized,
           std::to_string(decoded.resized.size()) + " images in total had a size other than " +
               std::to_string(shape.width) + "x" + std::to_string(shape.height) + " and were resized");

    drop_failed(jobs, n_train, decoded.ok, s);
    if (s.train.size() == 0)
        throw ConfigError("no training image in '" + layout.train_dir.string() + "' could be decoded");
    split_or_warn(s, layout.has_test(), opts, "image folder '" + root.string() + "'");
    return s;
}

}  // namespace vit::data_detail
