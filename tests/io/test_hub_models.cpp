// timm models as published on the Hugging Face Hub (config.json names the architecture) against the
// outputs of timm's own code: logits, every block's attention, and for class-token classifiers the
// attention rollout and gradient rollout over the patches (../shared/fixtures/timm-hub; the small
// "-mini" folders are copied into tests/fixtures/timm-hub).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "tensor_compare.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;
using vit_test::max_abs;
using vit_test::max_abs_diff;

namespace {

struct HubFixture {
    const char* name;  // the folder, also the test's name
    bool in_repo;      // copied into tests/fixtures/timm-hub (else read from ../shared)
};

// ctest shows the folder, not the bytes of the struct.
void PrintTo(const HubFixture& f, std::ostream* os) { *os << f.name; }

std::string fixture_dir(const HubFixture& f) {
    return f.in_repo ? std::string(VIT_TEST_DATA) + "/timm-hub/" + f.name
                     : std::string(VIT_SHARED_DIR) + "/fixtures/timm-hub/" + f.name;
}

class HubModel : public ::testing::TestWithParam<HubFixture> {};

TEST_P(HubModel, MatchesTimmLogitsAttentionAndRollouts) {
    const std::string dir = fixture_dir(GetParam());
    if (!fs::exists(dir + "/model.safetensors")) GTEST_SKIP() << "fixture not found at " << dir << " (../shared absent)";
    const vit::Model model(vit::load_checkpoint(dir));
    EXPECT_TRUE(model.unused_tensors().empty()) << "unused tensor " << model.unused_tensors().front();
    const vit::SafeTensors ref = vit::read_safetensors(dir + "/reference.safetensors");
    const vit::Tensor& input = ref.tensors.at("input");
    const vit::Tensor& want = ref.tensors.at("logits");

    std::vector<vit::Tensor> attn;
    const vit::Tensor logits = vit::run_forward(model, input, 2, &attn);
    ASSERT_EQ(logits.shape, want.shape);
    const float dl = max_abs_diff(logits, want);
    EXPECT_LT(dl, 1e-4f) << "logits";
    float da = 0;
    for (int i = 0; i < model.config().depth; ++i) {
        const vit::Tensor& a = ref.tensors.at("attn." + std::to_string(i));
        ASSERT_EQ(attn[size_t(i)].shape, a.shape) << "attn." << i;
        da = std::max(da, max_abs_diff(attn[size_t(i)], a));
    }
    EXPECT_LT(da, 1e-5f) << "attention";
    std::cout << "[ figures  ] " << GetParam().name << ": max |logits diff| " << dl << ", max |attention diff| " << da;

    if (ref.tensors.count("rollout.mean.d0")) {
        const int64_t N = input.shape[0];
        const vit::AttentionCapture cap = vit::capture_attention(model, input, std::vector<int>(size_t(N), 0), 2, true);
        const vit::PrefixTokens prefix = vit::prefix_tokens(model.config());
        const vit::Tensor r = vit::attention_rollout(cap.attn, prefix, vit::RolloutOptions{});
        const vit::Tensor& r_want = ref.tensors.at("rollout.mean.d0");
        ASSERT_EQ(r.shape, r_want.shape);
        const float dr = max_abs_diff(r, r_want);
        EXPECT_LT(dr, 1e-5f) << "rollout";
        const vit::Tensor g = vit::gradient_rollout(cap.attn, cap.grad, prefix, vit::RolloutOptions{});
        const vit::Tensor& g_want = ref.tensors.at("grad_rollout.c0.d0");
        ASSERT_EQ(g.shape, g_want.shape);
        const float dg = max_abs_diff(g, g_want) / max_abs(g_want);
        EXPECT_LT(dg, 1e-4f) << "gradient rollout, relative to the map's largest value";
        std::cout << ", rollout " << dr << ", gradient rollout " << dg << " of its max";
    }
    std::cout << "\n";
}

INSTANTIATE_TEST_SUITE_P(
    TimmHub, HubModel,
    ::testing::Values(HubFixture{"vit_tiny_patch16_224.augreg_in21k_ft_in1k", false},
                      HubFixture{"deit_tiny_distilled_patch16_224.fb_in1k", false},
                      HubFixture{"vit_small_patch14_reg4_dinov2.lvd142m-mini", true},
                      HubFixture{"vit_base_patch16_clip_224.openai-mini", true},
                      HubFixture{"vit_base_patch16_siglip_224.webli-mini", true}),
    [](const ::testing::TestParamInfo<HubFixture>& info) {
        std::string name;
        for (const char* c = info.param.name; *c; ++c) name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
        return name;
    });

}  // namespace
