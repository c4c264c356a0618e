// Per-channel statistics and the batch loader: worker threads that gather (from memory, or decoding a
// streamed dataset's files), augment (random resized crop, random crop with zero padding, horizontal
// flip, RandAugment / TrivialAugment, colour jitter), normalise, erase (random erasing) and mix (mixup /
// cutmix) batches ahead of the training step.
//
// Determinism: batch b of epoch e is a pure function of (data, seed, e, b). The epoch's permutation
// comes from a generator seeded by hash(seed, e); the augmentation of batch b from one seeded by
// hash(seed, e, b), which draws per image, in batch order, the crop offsets (top, then left, as
// torchvision's RandomCrop.get_params) and then the flip coin. The resized crop, auto-augmentation, colour
// jitter, random erasing and mixup draw from
// generators of their own, seeded from the same hash with a stream tag (and the image's position for
// erasing), so switching them on leaves the crops and flips as they were. Which worker builds a batch, and
// when, therefore changes nothing, and resuming at (e, b) reproduces the uninterrupted run. A process of a
// data-parallel run builds only its slice of each batch from the same draws (the crops and flips of the
// images before its slice are drawn and passed over), so the slices of all processes together are the
// batch one process would build.
#include <algorithm>
#include <array>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "data/image_reader.hpp"
#include "data/random.hpp"
#include "image/cv_image.hpp"
#include "image/pixels.hpp"
#include "util/worker_threads.hpp"
#include "vit/data/dataset.hpp"
#include "vit/util/error.hpp"

namespace vit {

namespace {

// The images channel_stats reads of a streamed dataset: a seeded sample of this many (all when fewer),
// decoded and fitted, which estimates the mean and std to about 1% at a few seconds' decoding.
constexpr size_t kStreamedStatsSample = 1000;

// A dataset in memory made of a seeded sample of a streamed one's images (unreadable files left out).
Dataset decoded_sample(const Dataset& d) {
    std::vector<uint32_t> order(d.size());
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937_64 rng(splitmix64(0x7374617473ull));  // "stats"
    data_detail::shuffle(order.data(), order.size(), rng);
    order.resize(std::min(order.size(), kStreamedStatsSample));
    Dataset out;
    out.channels = d.channels;
    out.height = d.height;
    out.width = d.width;
    std::vector<uint8_t> one(size_t(d.height) * d.width * d.channels);
    for (uint32_t i : order) {
        try {
            data_detail::read_fitted(d, i, one.data());
            out.pixels.insert(out.pixels.end(), one.begin(), one.end());
            out.labels.push_back(d.labels[i]);
        } catch (const Error&) {
        } catch (const cv::Exception&) {
        }
    }
    return out;
}

}  // namespace

void channel_stats(const Dataset& d, std::vector<float>& mean, std::vector<float>& std) {
    const int c = d.channels;
    if (d.size() == 0 || c <= 0) throw ConfigError("channel_stats: the dataset is empty");
    if (d.streamed()) {
        const Dataset sample = decoded_sample(d);
        if (sample.size() == 0) throw ConfigError("channel_stats: none of the sampled images could be decoded");
        channel_stats(sample, mean, std);
        return;
    }
    // Integer sums are exact (a 60000-image CIFAR set sums to ~1.5e10, its squares to ~4e12, far
    // inside 64 bits), so the only rounding is in the final division.
    std::vector<uint64_t> sum(c, 0), sum_sq(c, 0);
    const size_t n_pix = d.size() * size_t(d.height) * d.width;
    const uint8_t* p = d.pixels.data();
    for (size_t i = 0; i < n_pix; ++i)
        for (int k = 0; k < c; ++k) {
            const uint64_t v = p[i * c + k];
            sum[k] += v;
            sum_sq[k] += v * v;
        }
    mean.assign(c, 0.f);
    std.assign(c, 0.f);
    for (int k = 0; k < c; ++k) {
        // Population variance E[v^2] - E[v]^2 in pixel units, then scaled by 1/255 (std) and 1/255^2.
        const long double m = static_cast<long double>(sum[k]) / n_pix;
        const long double var = std::max<long double>(0, static_cast<long double>(sum_sq[k]) / n_pix - m * m);
        mean[k] = static_cast<float>(m / 255.0L);
        std[k] = static_cast<float>(std::sqrt(var) / 255.0L);
    }
}

namespace {

// Stream tags of the augmentations that have generators of their own (see the top of this file).
constexpr uint64_t kEraseStream = 0x6572617365ull;  // "erase"
constexpr uint64_t kMixStream = 0x6d69787570ull;    // "mixup"
constexpr uint64_t kAutoAugmentStream = 0x6175746f6175ull;  // "autoau"
constexpr uint64_t kResizedCropStream = 0x727263ull;       // "rrc"
constexpr uint64_t kJitterStream = 0x6a6974746572ull;      // "jitter"

// A streamed image that cannot be read takes the image this many batches on at the same position, at
// most this many times (a deleted folder then ends the run instead of skipping through the epoch).
constexpr int kMaxReplacements = 8;

uint64_t stream_seed(uint64_t batch_seed, uint64_t stream, uint64_t i) {
    return splitmix64(batch_seed ^ splitmix64(stream ^ splitmix64(i)));
}

// What the workers need to know about the epoch being produced. Immutable once published; a worker
// that is still building a batch of a superseded epoch keeps its plan alive and its batch is dropped.
struct EpochPlan {
    int epoch = 0;
    uint64_t generation = 0;
    std::vector<uint32_t> order;  // image indices in epoch order
};

}  // namespace

struct BatchLoader::Impl {
    const Dataset& data;
    int batch;
    Augment aug;
    LoaderOptions opts;
    // lut[c][v]: the normalised value of pixel value v in channel c, ((v / 255) - mean) / std.
    std::vector<std::array<float, 256>> lut;
    // The mean as 8-bit pixels, timm's img_mean (round(255 mean)): the fill of the auto-augmentation's
    // geometric operations and, with PadFill::Mean, of the crop padding before them.
    std::vector<uint8_t> mean_u8, black_u8;

    std::mutex mu;
    std::condition_variable cv_work;   // workers wait for room in the window or a new epoch
    std::condition_variable cv_ready;  // next() waits for its batch
    std::shared_ptr<const EpochPlan> plan;
    uint64_t generation = 0;
    size_t produce_next = 0;  // next batch index a worker will take
    size_t consume_next = 0;  // next batch index next() will return
    size_t end = 0;           // batches in the epoch
    std::map<size_t, Batch> ready;
    std::exception_ptr error;
    bool stop = false;
    bool started = false;
    double waited = 0.0;
    double busy = 0.0;  // seconds the workers spent in build(), summed over threads
    std::mutex skip_mu;  // the skipped files' count and the files already reported
    size_t skipped = 0;
    std::set<size_t> warned, failed_in_epoch;
    WorkerThreads threads;

    Impl(const Dataset& d, int b, Augment a, const LoaderOptions& o) : data(d), batch(b), aug(a), opts(o) {
        opts.workers = std::max(1, opts.workers);
        opts.prefetch = std::max(1, opts.prefetch);
    }

    size_t batches_per_epoch() const {
        const size_t n = data.size();
        return opts.drop_last ? n / batch : (n + batch - 1) / batch;
    }

    // The crop and flip of one source image, normalised through the lookup tables: output (y, x) reads
    // padded (y + top, x + left), i.e. source (y + dy, x + dx), which is padding outside the source;
    // flipping after the crop mirrors the output column: out(y, x) = crop(y, W-1-x).
    void normalise_crop(const uint8_t* src, float* dst, int dy, int dx, bool flip) const {
        const int C = data.channels, H = data.height, W = data.width;
        const size_t plane = size_t(H) * W;
        for (int c = 0; c < C; ++c) {
            const float* l = lut[c].data();
            const float zero = aug.pad_fill == PadFill::Mean ? 0.0f : l[0];
            float* dc = dst + c * plane;
            for (int y = 0; y < H; ++y) {
                const int sy = y + dy;
                float* row = dc + size_t(y) * W;
                if (sy < 0 || sy >= H) {
                    std::fill(row, row + W, zero);
                    continue;
                }
                const uint8_t* srow = src + size_t(sy) * W * C + c;
                for (int x = 0; x < W; ++x) {
                    const int sx = (flip ? W - 1 - x : x) + dx;
                    row[x] = (sx < 0 || sx >= W) ? zero : l[srow[size_t(sx) * C]];
                }
            }
        }
    }

    // Where image i of a batch is cut from: the crop's offset and the flip, drawn for every image of
    // the batch in batch order (a process that builds a slice draws those before it too).
    struct Placement {
        int dy = 0, dx = 0;
        bool flip = false;
    };

    std::vector<Placement> place(uint64_t seed, size_t count) const {
        std::mt19937_64 rng(seed);
        const int pad = aug.random_crop ? aug.padding : 0;
        std::vector<Placement> out(count);
        for (Placement& pl : out) {
            // Crop window in the zero-padded (H + 2p) x (W + 2p) image at (top, left) in [0, 2p]^2:
            // output (y, x) reads padded (y + top, x + left), i.e. source (y + top - p, x + left - p),
            // which is padding outside the source. No crop is the centred window top = left = p.
            int top = pad, left = pad;
            if (aug.random_crop) {
                top = static_cast<int>(data_detail::below(rng, uint64_t(2 * pad + 1)));
                left = static_cast<int>(data_detail::below(rng, uint64_t(2 * pad + 1)));
            }
            // u >= 1 - p, so that p = 1/2 is the top bit of the draw (the coin this loader always used).
            pl.flip = aug.hflip > 0 && data_detail::uniform01(rng) >= 1.0 - double(aug.hflip);
            pl.dy = top - pad;
            pl.dx = left - pad;
        }
        return out;
    }

    // What the augmentation of slot i starts from: the dataset's image (H, W, C) as it is in memory, or
    // decoded from its file and fitted to (H, W); the random resized crop in place of either when it
    // is on. `buf` holds the image when it is not the dataset's own memory. Throws IoError, ImageError
    // or cv::Exception when a streamed file cannot be read.
    const uint8_t* source(size_t idx, size_t i, uint64_t seed, std::vector<uint8_t>& buf) const {
        const int C = data.channels, H = data.height, W = data.width;
        if (!data.streamed() && !aug.resized_crop.enabled) return data.image(idx);
        buf.resize(size_t(H) * W * C);
        if (!aug.resized_crop.enabled) {
            data_detail::read_fitted(data, idx, buf.data());
            return buf.data();
        }
        const cv::Mat image = data.streamed() ? load_image(data.files[idx], C, data.image_limits)
                                              : cv::Mat(H, W, CV_8UC(C), const_cast<uint8_t*>(data.image(idx)));
        const CropBox box = sample_resized_crop(aug.resized_crop, image.rows, image.cols,
                                                stream_seed(seed, kResizedCropStream, i));
        data_detail::resized_crop_into(image, box, H, W, buf.data());
        return buf.data();
    }

    // The image of slot i of a batch that starts at `begin` in the epoch's order, read into buf: the
    // slot's own, or where its file cannot be read the one `batch` positions on (then 2 batch, ...),
    // which a process building any slice finds alike. Returns its pixels and sets idx to the image used.
    const uint8_t* read_slot(const EpochPlan& p, size_t begin, size_t i, uint64_t seed, std::vector<uint8_t>& buf,
                             size_t& idx) {
        const size_t n = p.order.size();
        for (int k = 0;; ++k) {
            idx = p.order[(begin + i + size_t(k) * size_t(batch)) % n];
            std::string problem;
            try {
                return source(idx, i, seed, buf);
            } catch (const IoError& e) {
                problem = e.what();
            } catch (const ImageError& e) {
                problem = e.what();
            } catch (const cv::Exception& e) {
                problem = e.what();
            }
            note_skipped(idx, problem);
            if (k == kMaxReplacements)
                throw IoError("cannot read the training images any more: '" + data.files[idx] + "' and the " +
                              std::to_string(kMaxReplacements) + " tried before it in its place failed (last: " +
                              problem + ")");
        }
    }

    void note_skipped(size_t idx, const std::string& problem) {
        std::lock_guard<std::mutex> lk(skip_mu);
        if (failed_in_epoch.insert(idx).second) ++skipped;
        if (warned.insert(idx).second && opts.warn)
            opts.warn("skipped '" + data.files[idx] + "' (" + problem + "); its place in the batch goes to a later image");
    }

    // Image i of the batch, from src (H, W, C), cropped, flipped, auto-augmented or jittered, normalised
    // and erased into dst; crop and scratch are the 8-bit augmentations' buffers.
    void make_image(const uint8_t* src, size_t i, const Placement& pl, uint64_t seed, float* dst,
                    std::vector<uint8_t>& crop, std::vector<uint8_t>& scratch) const {
        const int C = data.channels, H = data.height, W = data.width;
        const size_t plane = size_t(H) * W, img = plane * C;
        if (aug.auto_augment.enabled() || aug.color_jitter.enabled()) {
            // The 8-bit crop (output (y, x) reads source (y + dy, flipped x + dx), as below), the
            // policy's operations and the jitter on it, then the normalisation of every pixel.
            crop.resize(img);
            if (pl.dy == 0 && pl.dx == 0) {
                // No padding crop (the photo path): rows copied as they are, or mirrored pixel by pixel.
                const size_t row = size_t(W) * C;
                for (int y = 0; y < H; ++y) {
                    const uint8_t* s_row = src + size_t(y) * row;
                    uint8_t* d_row = crop.data() + size_t(y) * row;
                    if (!pl.flip) {
                        std::copy_n(s_row, row, d_row);
                        continue;
                    }
                    for (int x = 0; x < W; ++x) std::copy_n(s_row + size_t(W - 1 - x) * C, C, d_row + size_t(x) * C);
                }
            } else {
                for (int y = 0; y < H; ++y)
                    for (int x = 0; x < W; ++x) {
                        const int sy = y + pl.dy, sx = (pl.flip ? W - 1 - x : x) + pl.dx;
                        const bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
                        for (int c = 0; c < C; ++c)
                            crop[(size_t(y) * W + x) * C + c] = inside ? src[(size_t(sy) * W + sx) * C + c]
                                                                : aug.pad_fill == PadFill::Mean ? mean_u8[size_t(c)] : 0;
                    }
            }
            // timm's RandAugment fills with the dataset mean, torchvision's TrivialAugmentWide with black.
            const std::vector<uint8_t>& fill = aug.auto_augment.kind == AutoAugmentKind::TrivialWide ? black_u8 : mean_u8;
            if (aug.auto_augment.enabled())
                for (const AugmentCall& call : draw_auto_augment(aug.auto_augment, stream_seed(seed, kAutoAugmentStream, i), H, W))
                    apply_augment(call, crop.data(), H, W, C, fill.data(), scratch);
            if (aug.color_jitter.enabled())
                color_jitter(aug.color_jitter, stream_seed(seed, kJitterStream, i), crop.data(), H, W, C);
            for (int c = 0; c < C; ++c)
                for (size_t k = 0; k < plane; ++k) dst[c * plane + k] = lut[size_t(c)][crop[k * C + c]];
        } else {
            normalise_crop(src, dst, pl.dy, pl.dx, pl.flip);
        }
        if (aug.erasing.prob > 0.0f) random_erase(aug.erasing, stream_seed(seed, kEraseStream, i), dst, C, H, W);
    }

    // This process's slice of batch b: all of it, or with several processes batch_slice's part. Mixup
    // pairs image i with image n-1-i, which another process may hold: the slice's mirrors are built
    // here too (their augmentation is as much a function of (seed, epoch, b, i) as the slice's own), so
    // that every process mixes exactly the rows one process would give the whole batch.
    void build(const EpochPlan& p, size_t b, Batch& out) {
        const int C = data.channels, H = data.height, W = data.width;
        const size_t begin = b * size_t(batch);
        const int n = static_cast<int>(std::min(size_t(batch), data.size() - begin));
        const BatchSlice s = batch_slice(n, opts.rank, opts.ranks);
        const size_t img = size_t(H) * W * C;
        out.n = s.count;
        out.x.resize(size_t(s.count) * img);
        out.y.resize(size_t(s.count));
        const uint64_t seed = data_detail::batch_seed(opts.seed, static_cast<uint64_t>(p.epoch), b);
        const std::vector<Placement> placements = place(seed, size_t(n));
        std::vector<uint8_t> buf, crop, scratch;
        size_t idx = 0;
        for (int j = 0; j < s.count; ++j) {
            const int i = s.first + j;
            const uint8_t* src = read_slot(p, begin, size_t(i), seed, buf, idx);
            out.y[size_t(j)] = data.labels[idx];
            make_image(src, size_t(i), placements[size_t(i)], seed, out.x.data() + size_t(j) * img, crop, scratch);
        }
        out.targets.clear();
        if (!aug.mixup.enabled()) return;
        const MixDraw d = draw_mix(aug.mixup, stream_seed(seed, kMixStream, 0), H, W);
        std::vector<int> partner_labels(size_t(s.count));
        std::vector<float> partners(d.lam == 1.0 ? 0 : size_t(s.count) * img);
        for (int j = 0; j < s.count; ++j) {
            const int mirror = n - 1 - (s.first + j);
            if (mirror >= s.first && mirror < s.first + s.count) {
                partner_labels[size_t(j)] = out.y[size_t(mirror - s.first)];
                if (!partners.empty())
                    std::copy_n(out.x.data() + size_t(mirror - s.first) * img, img, partners.data() + size_t(j) * img);
                continue;
            }
            const uint8_t* src = read_slot(p, begin, size_t(mirror), seed, buf, idx);
            partner_labels[size_t(j)] = data.labels[idx];
            if (!partners.empty())
                make_image(src, size_t(mirror), placements[size_t(mirror)], seed, partners.data() + size_t(j) * img, crop, scratch);
        }
        mix_slice(d, out.x.data(), partners.data(), s, C, H, W);
        const int K = static_cast<int>(data.classes.size());
        out.targets.resize(size_t(s.count) * size_t(K));
        mix_targets(out.y.data(), partner_labels.data(), s.count, K, d.lam, aug.mixup.label_smoothing, out.targets.data());
    }

    void worker() {
        std::unique_lock<std::mutex> lk(mu);
        for (;;) {
            // The window [consume_next, consume_next + prefetch) bounds how many batches exist at once.
            cv_work.wait(lk, [&] {
                return stop || (plan && produce_next < end && produce_next < consume_next + size_t(opts.prefetch));
            });
            if (stop) return;
            const std::shared_ptr<const EpochPlan> p = plan;
            const size_t b = produce_next++;
            lk.unlock();
            Batch out;
            std::exception_ptr err;
            const auto t0 = std::chrono::steady_clock::now();
            try {
                build(*p, b, out);
            } catch (...) {
                err = std::current_exception();
            }
            const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            lk.lock();
            busy += spent;
            if (p->generation != generation) continue;  // the epoch was restarted meanwhile
            if (err && !error) error = err;
            ready.emplace(b, std::move(out));
            cv_ready.notify_all();
        }
    }

    void start(int epoch, size_t first) {
        auto p = std::make_shared<EpochPlan>();
        p->epoch = epoch;
        const size_t n = data.size();
        p->order.resize(n);
        std::iota(p->order.begin(), p->order.end(), 0u);
        if (opts.shuffle) {
            std::mt19937_64 rng(data_detail::epoch_seed(opts.seed, static_cast<uint64_t>(epoch)));
            data_detail::shuffle(p->order.data(), n, rng);
            // Repeated augmentation: position i takes the (i / repeats)-th image of the permutation.
            // Walking backwards lets it happen in place (source index <= destination index).
            const size_t r = size_t(opts.repeats);
            for (size_t i = n; r > 1 && i-- > 0;) p->order[i] = p->order[i / r];
        }
        {
            std::lock_guard<std::mutex> skip_lock(skip_mu);
            failed_in_epoch.clear();
        }
        std::lock_guard<std::mutex> lk(mu);
        p->generation = ++generation;
        plan = std::move(p);
        ready.clear();
        error = nullptr;
        end = batches_per_epoch();
        produce_next = consume_next = std::min(first, end);
        started = true;
        cv_work.notify_all();
    }
};

BatchLoader::BatchLoader(const Dataset& data, int batch, Augment aug, std::vector<float> mean, std::vector<float> std,
                         const LoaderOptions& opts) {
    if (batch <= 0) throw ConfigError("batch size must be positive, got " + std::to_string(batch));
    if (data.channels <= 0 || data.height <= 0 || data.width <= 0)
        throw ConfigError("BatchLoader: the dataset has no image shape");
    if (data.size() > 0xffffffffull) throw ConfigError("BatchLoader: more than 2^32 images");
    if (opts.repeats < 1) throw ConfigError("BatchLoader: repeats must be >= 1, got " + std::to_string(opts.repeats));
    if (opts.repeats > 1 && !opts.shuffle)
        throw ConfigError("BatchLoader: repeated augmentation (repeats " + std::to_string(opts.repeats) +
                          ") needs a shuffled order");
    if (aug.random_crop && aug.padding < 0)
        throw ConfigError("crop padding must be >= 0, got " + std::to_string(aug.padding));
    if (aug.erasing.prob > 0.0f) aug.erasing.validate();
    if (aug.resized_crop.enabled) aug.resized_crop.validate();
    aug.color_jitter.validate();
    if (!(aug.hflip >= 0.0f && aug.hflip <= 1.0f))
        throw FieldError("Augment", "hflip", "must be a probability in [0, 1]", std::to_string(aug.hflip));
    if (aug.resized_crop.enabled && !data.files.empty() && !data.streamed())
        throw ConfigError("BatchLoader: the random resized crop works on the original images, and this image folder "
                          "was decoded into memory at " + std::to_string(data.width) + "x" + std::to_string(data.height) +
                          "; load it with Cache::None");
    if (data.streamed() && data.files.size() != data.size())
        throw ConfigError("BatchLoader: a streamed dataset needs one file per label, got " +
                          std::to_string(data.files.size()) + " files for " + std::to_string(data.size()) + " labels");
    aug.mixup.validate();
    if (aug.mixup.enabled() && data.classes.empty()) throw ConfigError("BatchLoader: mixup needs the dataset's classes");
    if (opts.ranks < 1 || opts.rank < 0 || opts.rank >= opts.ranks)
        throw ConfigError("BatchLoader: process " + std::to_string(opts.rank) + " is not one of " + std::to_string(opts.ranks));
    if (opts.ranks > 1 && (!opts.drop_last || batch < opts.ranks))
        throw ConfigError("BatchLoader: a batch of " + std::to_string(batch) + " shared by " + std::to_string(opts.ranks) +
                          " processes needs drop_last and at least one image per process");
    const size_t c = size_t(data.channels);
    if (mean.size() != c || std.size() != c)
        throw ConfigError("BatchLoader: mean/std have " + std::to_string(mean.size()) + "/" +
                          std::to_string(std.size()) + " values, the data has " + std::to_string(c) + " channels");
    for (float s : std)
        if (!(s > 0.f)) throw ConfigError("BatchLoader: std values must be positive, got " + std::to_string(s));

    impl_ = std::make_unique<Impl>(data, batch, aug, opts);
    impl_->lut.resize(c);
    for (size_t k = 0; k < c; ++k)
        for (int v = 0; v < 256; ++v) impl_->lut[k][v] = normalise_pixel(static_cast<uint8_t>(v), mean[k], std[k]);
    for (size_t k = 0; k < c; ++k)
        impl_->mean_u8.push_back(static_cast<uint8_t>(std::clamp(std::nearbyint(255.0 * mean[k]), 0.0, 255.0)));
    impl_->black_u8.assign(c, 0);
    Impl* impl = impl_.get();
    impl->threads.start(
        impl->opts.workers, [impl](int) { impl->worker(); },
        [impl] {
            {
                std::lock_guard<std::mutex> lk(impl->mu);
                impl->stop = true;
            }
            impl->cv_work.notify_all();
        });
}

BatchLoader::~BatchLoader() { impl_->threads.join(); }

size_t BatchLoader::batches_per_epoch() const { return impl_->batches_per_epoch(); }

void BatchLoader::start_epoch(int epoch, size_t first) { impl_->start(epoch, first); }

bool BatchLoader::next(Batch& out) {
    Impl& m = *impl_;
    bool started;
    {
        std::lock_guard<std::mutex> lk(m.mu);
        started = m.started;
    }
    if (!started) m.start(0, 0);  // iterating without start_epoch means epoch 0 from its beginning
    std::unique_lock<std::mutex> lk(m.mu);
    if (m.consume_next >= m.end) return false;
    const size_t b = m.consume_next;
    auto it = m.ready.find(b);
    if (it == m.ready.end()) {
        const auto t0 = std::chrono::steady_clock::now();
        m.cv_ready.wait(lk, [&] { return m.ready.count(b) > 0; });
        m.waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        it = m.ready.find(b);
    }
    if (m.error) {
        std::exception_ptr e = m.error;
        lk.unlock();
        std::rethrow_exception(e);
    }
    out = std::move(it->second);
    m.ready.erase(it);
    ++m.consume_next;
    m.cv_work.notify_all();
    return true;
}

double BatchLoader::wait_seconds() const {
    std::lock_guard<std::mutex> lk(impl_->mu);
    return impl_->waited;
}

size_t BatchLoader::skipped_images() const {
    std::lock_guard<std::mutex> lk(impl_->skip_mu);
    return impl_->skipped;
}

double BatchLoader::busy_seconds() const {
    std::lock_guard<std::mutex> lk(impl_->mu);
    return impl_->busy;
}

}  // namespace vit
