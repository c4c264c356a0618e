// Training data: datasets of 8-bit images, held in memory or streamed from their files, and a loader
// whose worker threads read, augment, normalise and batch ahead of the training step.
//
// Formats (detected from the path):
//   image folder   ROOT/{train,test}/<class>/*.{jpg,png,...}  (or ROOT/<class>/* with a validation split);
//                  classes are the sorted sub-folder names. Decoded once into memory (Cache::Decoded),
//                  or streamed: listed only, each image decoded when a batch needs it (Cache::None),
//                  so that memory does not grow with the folder. Cache::Auto caches what fits.
//   CIFAR-10       data_batch_{1..5}.bin + test_batch.bin   (records: 1 label byte + 3072 pixel bytes)
//   CIFAR-100      train.bin + test.bin                      (records: coarse, fine label + 3072 bytes)
//   MNIST / Fashion-MNIST  {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//
// Randomness is a pure function of (seed, epoch, batch index): the shuffle of an epoch and the
// augmentation of a batch are the same whenever they are computed, so a resumed run sees exactly the
// batches an uninterrupted one would.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <optional>

#include "vit/data/augment/auto_augment.hpp"
#include "vit/data/augment/color_jitter.hpp"
#include "vit/data/augment/mixup.hpp"
#include "vit/data/augment/random_erasing.hpp"
#include "vit/data/augment/resized_crop.hpp"
#include "vit/image/header.hpp"
#include "vit/image/preprocess.hpp"

namespace vit {

struct Dataset {
    int channels = 0, height = 0, width = 0;
    std::vector<std::string> classes;
    std::vector<uint8_t> pixels;  // (N, H, W, C), RGB order for colour; empty when streamed
    std::vector<int> labels;      // (N)
    // Image folders: the file of each image (N). A streamed dataset decodes image i from files[i]
    // when a batch needs it and brings it to (height, width) as eval_transform says.
    std::vector<std::string> files;
    // How a decoded file becomes a (height, width) image: unset, the whole image resized to that size
    // (area averaging when shrinking, bilinear when enlarging); set, the model's evaluation transform
    // (resize, then centre crop with crop_pct; image/preprocess.hpp), whose size is the dataset's.
    std::optional<PreprocessConfig> eval_transform;
    ImageLimits image_limits;  // checked on every file a streamed dataset decodes

    size_t size() const { return labels.size(); }
    bool streamed() const { return pixels.empty() && !labels.empty(); }
    // The pixels of image i; only for datasets in memory.
    const uint8_t* image(size_t i) const { return pixels.data() + i * size_t(height) * width * channels; }
};

// Whether an image folder is decoded once into memory or read from disk every epoch. Auto decodes
// into memory when both splits at the dataset's size take at most LoadOptions::cache_share of the
// memory available (util/memory.hpp), and streams otherwise. The binary formats are always in memory.
enum class Cache { Auto, None, Decoded };
const char* to_string(Cache c);             // "auto" | "none" | "decoded"
Cache parse_cache(const std::string& s);   // those names; ConfigError otherwise

struct DataSplit {
    Dataset train, test;
};

struct LoadOptions {
    int channels = 0;           // 0: the data's own (1 for gray folders/IDX, 3 otherwise)
    int height = 0, width = 0;  // 0: the size of the first image; others of another size are resized
    double val_split = 0.0;     // fraction of train held out as test when the data has no test split
    bool cifar100_coarse = false;
    uint64_t seed = 0;          // for the validation split
    int threads = 0;            // decoding workers; 0 = hardware concurrency
    ImageLimits image_limits;   // image folders: images above it are skipped, like those that fail to decode
    Cache cache = Cache::Decoded;  // image folders only
    double cache_share = 0.25;     // Cache::Auto: the share of available memory the cache may take
    std::optional<PreprocessConfig> eval_transform;  // image folders: see Dataset::eval_transform
    // Image folders: only these class folders (in both splits), labelled in sorted order as a folder
    // holding just them would be; empty: every class folder.
    std::vector<std::string> classes;
    std::function<void(const std::string&)> warn;                       // skipped / resized images
    std::function<void(size_t done, size_t total)> progress;            // decoding progress

    // Throws ConfigError naming the field when a value is out of range (load_dataset calls it).
    void validate() const;
};

enum class DatasetFormat { ImageFolder, Cifar10, Cifar100, Idx };

// The format load_dataset reads at path, told from the files present (anything that is not CIFAR or
// IDX is taken for an image folder). Throws IoError when path is not an existing folder.
DatasetFormat detect_dataset_format(const std::string& path);

// Throws IoError (missing path), FormatError (bad file length, wrong IDX magic, ...) or ConfigError
// (bad options, empty dataset, class folder without images, no test split and no val_split) with a
// clear message.
DataSplit load_dataset(const std::string& path, const LoadOptions& opts);

// What a random crop's padding shows: black pixels (torchvision's RandomCrop, fill 0 before
// normalising), or the dataset mean (0 after normalising, as the PyTorch reference recipe pads
// normalised tensors).
enum class PadFill { Black, Mean };
const char* to_string(PadFill f);               // "black" | "mean"
PadFill parse_pad_fill(const std::string& s);  // those names; ConfigError otherwise

struct Augment {
    // timm's photo crop, on the original image (a streamed image folder's file, a binary dataset's own
    // image); it replaces the dataset's fit and comes before everything below.
    ResizedCrop resized_crop;
    bool random_crop = false;  // pad by `padding` (zeros) then crop back at a random offset
    int padding = 4;
    float hflip = 0.0f;        // mirror with this probability
    PadFill pad_fill = PadFill::Black;
    // Per image on the 8-bit crop, before normalising; the crop's padding is then the dataset mean
    // rounded to 8 bits (timm's img_mean) where pad_fill asks for the mean.
    AutoAugment auto_augment;
    ColorJitter color_jitter;  // after the auto-augmentation (timm uses one or the other)
    RandomErasing erasing;  // per image, after normalising (prob 0: off)
    MixupConfig mixup;      // per batch, last (off unless an alpha is > 0)
};

// A batch, or this process's slice of it (LoaderOptions::ranks).
struct Batch {
    int n = 0;
    std::vector<float> x;        // (n, C, H, W), normalised
    std::vector<int> y;          // (n)
    std::vector<float> targets;  // (n, classes) soft targets when the loader mixes, else empty
};

// Per-channel mean and std of a dataset's pixels in [0, 1].
void channel_stats(const Dataset& d, std::vector<float>& mean, std::vector<float>& std);

// How a BatchLoader walks its dataset and how far ahead it works.
struct LoaderOptions {
    bool shuffle = false;    // a new seeded permutation every epoch; otherwise the dataset's order
    bool drop_last = false;  // leave out the last batch of an epoch when it would be smaller than `batch`
    uint64_t seed = 0;       // of the permutations and the augmentation
    // Repeated augmentation (Hoffer et al. 2020; timm's --aug-repeats, RepeatAugSampler): with
    // shuffle, every image of the epoch's permutation is taken `repeats` times in a row and the
    // sequence is cut to the dataset's length, so an epoch keeps its length but sees 1/repeats of the
    // images, each in `repeats` differently augmented copies (the augmentation draws per position in
    // the batch, not per image). 1: off.
    int repeats = 1;
    int workers = 2;         // threads building batches (at least 1 is used)
    int prefetch = 4;        // batches built ahead of next() (at least 1)
    // Data-parallel training: this process builds only its slice, batch_slice(batch, rank, ranks), of
    // every batch (which needs drop_last). The epoch's order is the same on every process (one seed).
    int rank = 0, ranks = 1;
    // Streamed datasets: an image whose file cannot be read or decoded is replaced, in its batch, by the
    // next image in the epoch's order at the same position of a later batch that can be (a function of
    // the epoch's order, not of timing), and reported here once per file (from a worker thread, one
    // call at a time).
    std::function<void(const std::string&)> warn;
};

class BatchLoader {
public:
    // Iterates `data` in batches of `batch`, augmented by aug and normalised with the per-channel
    // mean and std (of values in [0, 1]).
    BatchLoader(const Dataset& data, int batch, Augment aug, std::vector<float> mean, std::vector<float> std,
                const LoaderOptions& opts);
    ~BatchLoader();

    size_t batches_per_epoch() const;
    // Starts producing the batches of `epoch` from batch index `first` (for resume).
    void start_epoch(int epoch, size_t first = 0);
    // The next batch of the epoch, in order; false when the epoch is done.
    bool next(Batch& out);
    // Seconds next() has spent waiting for a batch that was not ready yet, since construction.
    double wait_seconds() const;
    // Images skipped because their file could not be read or decoded, since construction: each file
    // once per epoch in which it failed (LoaderOptions::warn names it only the first time).
    size_t skipped_images() const;
    // Seconds the worker threads have spent building batches (augmenting, normalising, mixing), summed
    // over the threads, since construction: the augmentation's cost.
    double busy_seconds() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vit
