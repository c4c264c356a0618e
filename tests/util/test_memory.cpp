// The memory budget: a batch whose activations cannot fit is refused, with the estimate and what is
// available, before anything is allocated.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "expect_error.hpp"
#include "vit/model/checkpoint.hpp"
#include "vit/util/error.hpp"
#include "vit/explain/attention_maps.hpp"
#include "vit/util/memory.hpp"
#include "vit/model/model.hpp"
#include "vit/train/trainer.hpp"
#include "vit/io/checkpoint.hpp"

namespace {

using vit_test::error_of;

const std::string kModel = std::string(VIT_SOURCE_DIR) + "/models/random-cifar-t.safetensors";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Memory, AvailableMemoryIsReadFromTheSystem) {
    const uint64_t available = vit::available_memory_bytes();
    EXPECT_GT(available, 0u);
    EXPECT_LT(available, std::numeric_limits<uint64_t>::max()) << "neither /proc/meminfo nor sysconf was read";
}

TEST(Memory, MoreThanIsAvailableIsRefusedWithBothFigures) {
    const uint64_t available = vit::available_memory_bytes();
    ASSERT_LT(available, uint64_t(1) << 60);
    const std::string message = error_of<vit::MemoryError>(
        [&] { vit::require_memory(double(available) + 1e12, "a test allocation"); });
    EXPECT_TRUE(contains(message, "a test allocation")) << message;
    EXPECT_TRUE(contains(message, "GiB of memory")) << message;
    EXPECT_TRUE(contains(message, "is available")) << message;
    EXPECT_NO_THROW(vit::require_memory(1 << 20, "a megabyte"));
}

TEST(Memory, ARunnerOrTrainerForABatchThatCannotFitIsRefusedBeforeAllocating) {
    vit::Model model(vit::load_checkpoint(kModel));
    // cifar-t: 65 tokens of width 192, so 50 million images need terabytes of activations.
    const std::string inference = error_of<vit::MemoryError>([&] { vit::Runner runner(model, 50'000'000); });
    EXPECT_TRUE(contains(inference, "batch of 50000000 (inference")) << inference;
    const std::string training =
        error_of<vit::MemoryError>([&] { vit::Trainer trainer(model, 50'000'000, vit::OptimConfig{}); });
    EXPECT_TRUE(contains(training, "(training")) << training;
    // An ordinary batch is planned as before.
    EXPECT_NO_THROW(vit::Runner runner(model, 64));
}

TEST(Memory, AttentionMapsForTooManyImagesAreRefusedBeforeAllocating) {
    // 65 tokens (8x8 patches of one pixel and a class token), 100 blocks of 4 heads: 6.8 MB of maps per
    // image, so 676 GB for 100000 images, whose input is only 77 MB.
    vit::ViTConfig cfg;
    cfg.img_h = cfg.img_w = 8;
    cfg.patch_size = 1;
    cfg.num_classes = 2;
    cfg.embed_dim = 8;
    cfg.depth = 100;
    cfg.num_heads = 4;
    vit::PreprocessConfig pre;
    pre.height = pre.width = 8;
    const vit::Model model(cfg, pre, {"a", "b"}, 1);
    const vit::Tensor x({100000, 3, 8, 8}, 0.0f);
    std::vector<vit::Tensor> attention;
    const std::string forward =
        error_of<vit::MemoryError>([&] { vit::run_forward(model, x, 64, &attention); });
    EXPECT_TRUE(contains(forward, "attention maps of 100000 images")) << forward;
    EXPECT_TRUE(attention.empty());
    const std::string capture =
        error_of<vit::MemoryError>([&] { vit::capture_attention(model, x, {}, 64, /*gradients=*/false); });
    EXPECT_TRUE(contains(capture, "capturing the attention of 100000 images")) << capture;
}

}  // namespace
