// Command-line values shared by `vit explain` and `vit forward --rollout/--grad-rollout`: each parser
// throws UsageError (exit 2) naming the flag and the accepted values.
#pragma once
#include <string>

#include "common.hpp"

namespace vit_cli {

// A ratio in [0, 1).
float parse_discard_ratio(const std::string& flag, const std::string& text);
// "mean" | "max" | "min".
vit::HeadFusion parse_fusion_flag(const std::string& flag, const std::string& text);
// A class index in [0, classes).
int parse_class_flag(const std::string& flag, const std::string& text, int classes);

}  // namespace vit_cli
