// The comparison of a `vit train-step` output with the PyTorch fixture's loss, gradients and updated
// parameters (timm-vit-small32/train_step.safetensors), within the tolerances the fixture allows.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "vit/io/safetensors.hpp"

namespace vit_test {

inline void expect_matches_train_step_fixture(const std::filesystem::path& out, const std::string& fixture) {
    const vit::SafeTensors ours = vit::read_safetensors(out.string());
    const vit::SafeTensors ref = vit::read_safetensors(fixture);
    EXPECT_NEAR(ours.tensors.at("loss").data[0], ref.tensors.at("loss").data[0], 1e-5);
    int compared = 0;
    for (const auto& [name, t] : ref.tensors) {
        if (name.rfind("grad.", 0) != 0) continue;
        const vit::Tensor& g = ours.tensors.at(name);
        ASSERT_EQ(g.shape, t.shape) << name;
        float gmax = 0;
        for (float v : t.data) gmax = std::max(gmax, std::fabs(v));
        for (size_t i = 0; i < t.data.size(); ++i) ASSERT_NEAR(g.data[i], t.data[i], 1e-4f * gmax) << name;
        const vit::Tensor& after = ours.tensors.at("after." + name.substr(5));
        const vit::Tensor& want = ref.tensors.at("after." + name.substr(5));
        for (size_t i = 0; i < t.data.size(); ++i)
            ASSERT_NEAR(after.data[i], want.data[i], std::fabs(t.data[i]) > 1e-6f ? 1e-6f : 1e-3f + 1e-6f) << name;
        ++compared;
    }
    EXPECT_EQ(compared, 32);
}

}  // namespace vit_test
