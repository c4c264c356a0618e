// Image folders streamed from disk (Cache::None): the same batches as the folder decoded into memory,
// resume and data-parallel slices from (seed, epoch, index), unreadable files skipped with a warning
// while the batch stays full, a deleted folder reported by name, and the cache's automatic choice.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "epoch_batches.hpp"
#include "expect_error.hpp"
#include "temp_dir.hpp"
#include "vit/data/dataset.hpp"
#include "vit/util/error.hpp"

namespace fs = std::filesystem;

namespace {

using vit_test::TempDir;

// root/{train,test}/{a,b,c}: per class `per_class` training PNGs and 2 test PNGs of assorted sizes
// (12x16 to 19x23, so that every image is fitted), with pixels that depend on the class and the index.
void write_photos(const fs::path& root, int per_class) {
    for (const auto& [split, count] : {std::pair{"train", per_class}, std::pair{"test", 2}})
        for (int c = 0; c < 3; ++c) {
            const fs::path dir = root / split / std::string(1, char('a' + c));
            fs::create_directories(dir);
            for (int i = 0; i < count; ++i) {
                cv::Mat img(12 + (i * 5) % 8, 16 + (i * 3) % 8, CV_8UC3);
                cv::RNG rng(uint64_t(1000 * c + i + 1));
                rng.fill(img, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(255));
                img.col(c).setTo(cv::Scalar(255, 255, 255));
                ASSERT_TRUE(cv::imwrite((dir / (std::to_string(i) + ".png")).string(), img));
            }
        }
}

vit::LoadOptions folder_options(vit::Cache cache) {
    vit::LoadOptions o;
    o.height = 8;
    o.width = 10;
    o.threads = 2;
    o.cache = cache;
    return o;
}

vit::LoaderOptions shuffled(uint64_t seed) {
    vit::LoaderOptions o;
    o.shuffle = true;
    o.drop_last = true;
    o.seed = seed;
    o.workers = 2;
    return o;
}

vit::Augment crop_flip_jitter() {
    vit::Augment aug;
    aug.random_crop = true;
    aug.padding = 2;
    aug.hflip = 0.5f;
    aug.color_jitter = {0.4f, 0.4f, 0.4f};
    return aug;
}

using vit_test::epoch_batches;

const std::vector<float> kMean(3, 0.5f), kStd(3, 0.25f);

}  // namespace

TEST(DataStreaming, AStreamedFolderHoldsNoPixelsAndGivesTheBatchesOfTheDecodedOne) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 7);
    const vit::DataSplit cached = vit::load_dataset(tmp.str(), folder_options(vit::Cache::Decoded));
    const vit::DataSplit streamed = vit::load_dataset(tmp.str(), folder_options(vit::Cache::None));
    ASSERT_FALSE(cached.train.streamed());
    ASSERT_TRUE(streamed.train.streamed());
    EXPECT_TRUE(streamed.train.pixels.empty());
    EXPECT_TRUE(streamed.test.pixels.empty());
    ASSERT_EQ(streamed.train.size(), 21u);
    EXPECT_EQ(streamed.train.labels, cached.train.labels);
    EXPECT_EQ(streamed.train.files, cached.train.files);

    vit::BatchLoader from_memory(cached.train, 4, crop_flip_jitter(), kMean, kStd, shuffled(3));
    vit::BatchLoader from_disk(streamed.train, 4, crop_flip_jitter(), kMean, kStd, shuffled(3));
    const auto a = epoch_batches(from_memory, 2), b = epoch_batches(from_disk, 2);
    ASSERT_EQ(a.size(), 5u);
    ASSERT_EQ(b.size(), a.size());
    for (size_t k = 0; k < a.size(); ++k) {
        EXPECT_EQ(a[k].y, b[k].y) << "batch " << k;
        EXPECT_EQ(a[k].x, b[k].x) << "batch " << k;
    }
    EXPECT_EQ(from_disk.skipped_images(), 0u);

    // Resuming in the middle of the epoch gives the rest of the same batches.
    const auto rest = epoch_batches(from_disk, 2, 3);
    ASSERT_EQ(rest.size(), 2u);
    EXPECT_EQ(rest[0].x, a[3].x);
    EXPECT_EQ(rest[1].y, a[4].y);

    // The mean and std of a streamed dataset come from its decoded images (all of them, being few).
    std::vector<float> m1, s1, m2, s2;
    vit::channel_stats(cached.train, m1, s1);
    vit::channel_stats(streamed.train, m2, s2);
    for (int c = 0; c < 3; ++c) {
        EXPECT_NEAR(m1[c], m2[c], 1e-6);
        EXPECT_NEAR(s1[c], s2[c], 1e-6);
    }
}

TEST(DataStreaming, EachProcessBuildsItsSliceOfTheBatchFromItsOwnFiles) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 6);
    const vit::DataSplit s = vit::load_dataset(tmp.str(), folder_options(vit::Cache::None));
    vit::BatchLoader whole(s.train, 6, crop_flip_jitter(), kMean, kStd, shuffled(9));
    const auto all = epoch_batches(whole, 1);
    std::vector<std::vector<vit::Batch>> parts;
    for (int r = 0; r < 2; ++r) {
        vit::LoaderOptions o = shuffled(9);
        o.rank = r;
        o.ranks = 2;
        vit::BatchLoader part(s.train, 6, crop_flip_jitter(), kMean, kStd, o);
        parts.push_back(epoch_batches(part, 1));
    }
    ASSERT_EQ(parts[0].size(), all.size());
    const size_t img = 3 * 8 * 10;
    for (size_t k = 0; k < all.size(); ++k) {
        ASSERT_EQ(parts[0][k].n, 3);
        std::vector<float> x = parts[0][k].x;
        x.insert(x.end(), parts[1][k].x.begin(), parts[1][k].x.end());
        EXPECT_EQ(x, all[k].x) << "batch " << k;
        EXPECT_EQ(parts[1][k].x.size(), 3 * img);
    }
}

TEST(DataStreaming, AFileThatBecomesUnreadableIsSkippedWithAWarningAndTheBatchStaysFull) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 5);
    const vit::DataSplit s = vit::load_dataset(tmp.str(), folder_options(vit::Cache::None));
    std::mutex mu;
    std::vector<std::string> warnings;
    vit::LoaderOptions o = shuffled(5);
    o.warn = [&](const std::string& w) {
        std::lock_guard<std::mutex> lk(mu);
        warnings.push_back(w);
    };
    vit::BatchLoader loader(s.train, 5, vit::Augment{}, kMean, kStd, o);
    const auto before = epoch_batches(loader, 0);
    // Between epochs, one file is truncated (as a copy that died half-way) and another removed.
    const std::string truncated = s.train.files[4], removed = s.train.files[9];
    fs::resize_file(truncated, 30);
    fs::remove(removed);
    const auto after = epoch_batches(loader, 1);
    ASSERT_EQ(after.size(), before.size());
    for (const vit::Batch& b : after) EXPECT_EQ(b.n, 5);
    EXPECT_EQ(loader.skipped_images(), 2u);
    ASSERT_EQ(warnings.size(), 2u);
    std::sort(warnings.begin(), warnings.end());
    const bool names_both = (warnings[0].find(truncated) != std::string::npos && warnings[1].find(removed) != std::string::npos) ||
                            (warnings[1].find(truncated) != std::string::npos && warnings[0].find(removed) != std::string::npos);
    EXPECT_TRUE(names_both) << warnings[0] << "\n" << warnings[1];
    // The same files fail again in the next epoch: counted again, not reported again.
    epoch_batches(loader, 2);
    EXPECT_EQ(loader.skipped_images(), 4u);
    EXPECT_EQ(warnings.size(), 2u);
}

TEST(DataStreaming, AFolderDeletedDuringTheRunEndsItWithAMessageNamingAFile) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 4);
    const vit::DataSplit s = vit::load_dataset(tmp.str(), folder_options(vit::Cache::None));
    vit::BatchLoader loader(s.train, 4, vit::Augment{}, kMean, kStd, shuffled(1));
    fs::remove_all(tmp.path / "train");
    loader.start_epoch(0);
    vit::Batch b;
    const std::string msg = vit_test::error_of<vit::IoError>([&] { loader.next(b); });
    EXPECT_NE(msg.find("cannot read the training images any more"), std::string::npos) << msg;
    EXPECT_NE(msg.find((tmp.path / "train").string()), std::string::npos) << msg;
}

TEST(DataStreaming, AutoCachesWhatFitsItsShareOfMemoryAndStreamsTheRest) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 2);
    vit::LoadOptions o = folder_options(vit::Cache::Auto);
    EXPECT_FALSE(vit::load_dataset(tmp.str(), o).train.streamed());
    o.cache_share = 1e-15;  // less than one image's bytes
    EXPECT_TRUE(vit::load_dataset(tmp.str(), o).train.streamed());
    o.cache_share = 0;
    EXPECT_THROW(vit::load_dataset(tmp.str(), o), vit::ConfigError);
    EXPECT_EQ(vit::parse_cache("none"), vit::Cache::None);
    EXPECT_STREQ(vit::to_string(vit::Cache::Auto), "auto");
    EXPECT_THROW(vit::parse_cache("memory"), vit::ConfigError);
}

TEST(DataStreaming, AStreamedValidationSplitMovesFilesAndTheRandomResizedCropNeedsTheOriginals) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 5);
    fs::remove_all(tmp.path / "test");
    vit::LoadOptions o = folder_options(vit::Cache::None);
    o.val_split = 0.2;
    const vit::DataSplit s = vit::load_dataset((tmp.path / "train").string(), o);
    EXPECT_EQ(s.train.size(), 12u);
    EXPECT_EQ(s.test.size(), 3u);
    EXPECT_EQ(s.test.files.size(), 3u);
    EXPECT_TRUE(s.test.streamed());
    for (const std::string& f : s.test.files)
        EXPECT_EQ(std::count(s.train.files.begin(), s.train.files.end(), f), 0) << f;

    vit::Augment rrc;
    rrc.resized_crop.enabled = true;
    vit::BatchLoader streamed(s.train, 4, rrc, kMean, kStd, shuffled(2));
    EXPECT_EQ(epoch_batches(streamed, 0).size(), 3u);
    o.cache = vit::Cache::Decoded;
    const vit::DataSplit cached = vit::load_dataset((tmp.path / "train").string(), o);
    const std::string msg = vit_test::error_of<vit::ConfigError>(
        [&] { vit::BatchLoader(cached.train, 4, rrc, kMean, kStd, shuffled(2)); });
    EXPECT_NE(msg.find("Cache::None"), std::string::npos) << msg;
}

TEST(DataStreaming, SymlinkLoopsInAFolderAreNeitherClassesNorImages) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 2);
    fs::create_directory_symlink(tmp.path / "train", tmp.path / "train" / "a" / "loop");
    fs::create_symlink(tmp.path / "train" / "self", tmp.path / "train" / "self");
    const vit::DataSplit s = vit::load_dataset(tmp.str(), folder_options(vit::Cache::None));
    EXPECT_EQ(s.train.classes, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(s.train.size(), 6u);
}

TEST(DataStreaming, AClassSubsetKeepsItsFoldersLabelledInSortedOrder) {
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 3);
    vit::LoadOptions o = folder_options(vit::Cache::None);
    o.classes = {"c", "a"};
    const vit::DataSplit s = vit::load_dataset(tmp.str(), o);
    EXPECT_EQ(s.train.classes, (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(s.train.labels, (std::vector<int>{0, 0, 0, 1, 1, 1}));
    EXPECT_EQ(s.test.size(), 4u);
    for (const std::string& f : s.train.files) EXPECT_EQ(f.find("/b/"), std::string::npos) << f;
    o.classes = {"a", "d"};
    const std::string unknown = vit_test::error_of<vit::ConfigError>([&] { vit::load_dataset(tmp.str(), o); });
    EXPECT_NE(unknown.find("no class folder d"), std::string::npos) << unknown;
    EXPECT_NE(unknown.find("a, b, c"), std::string::npos) << unknown;
    o.classes = {"a", "a"};
    EXPECT_THROW(vit::load_dataset(tmp.str(), o), vit::ConfigError);
    // A test split lacking a chosen class is refused; one lacking an unchosen class is fine.
    fs::remove_all(tmp.path / "test" / "b");
    o.classes = {"a", "c"};
    EXPECT_EQ(vit::load_dataset(tmp.str(), o).test.size(), 4u);
    o.classes = {"b"};
    EXPECT_THROW(vit::load_dataset(tmp.str(), o), vit::ConfigError);
}

TEST(DataStreaming, TheEightBitPathCropsAndFlipsAsTheDirectOne) {
    // RandAugment with no layers takes the 8-bit path (crop, flip, then normalise) and changes nothing,
    // so it must give the direct path's batches: with the padding crop and without it (the photo path,
    // where rows are copied or mirrored whole).
    TempDir tmp("vit_stream");
    write_photos(tmp.path, 4);
    const vit::DataSplit s = vit::load_dataset(tmp.str(), folder_options(vit::Cache::Decoded));
    for (const bool pad_crop : {false, true}) {
        vit::Augment direct;
        direct.random_crop = pad_crop;
        direct.padding = 2;
        direct.hflip = 0.5f;
        vit::Augment eight_bit = direct;
        eight_bit.auto_augment = vit::parse_auto_augment("rand-n0");
        ASSERT_TRUE(eight_bit.auto_augment.enabled());
        vit::BatchLoader a(s.train, 4, direct, kMean, kStd, shuffled(6));
        vit::BatchLoader b(s.train, 4, eight_bit, kMean, kStd, shuffled(6));
        const auto x = epoch_batches(a, 0), y = epoch_batches(b, 0);
        ASSERT_EQ(x.size(), y.size());
        for (size_t k = 0; k < x.size(); ++k) EXPECT_EQ(x[k].x, y[k].x) << "pad crop " << pad_crop << ", batch " << k;
    }
}
