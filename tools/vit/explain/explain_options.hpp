// Command-line values shared by `vit explain` and `vit forward --rollout/--grad-rollout`: each parser
// throws UsageError (exit 2) naming the flag and the accepted values.
#pragma once
#include <string>
#include <vector>

#include "common.hpp"

namespace vit_cli {

// A ratio in [0, 1).
float parse_discard_ratio(const std::string& flag, const std::string& text);
// "mean" | "max" | "min".
vit::HeadFusion parse_fusion_flag(const std::string& flag, const std::string& text);
// A class index in [0, classes).
int parse_class_flag(const std::string& flag, const std::string& text, int classes);

// The methods' names on the command line, one per vit::SaliencyMethod: rollout, grad-rollout,
// chefer2021, chefer2021-lrp, attnlrp, last-attention, occlusion, grad-rollout-x-occlusion, rise.
vit::SaliencyMethod parse_method_flag(const std::string& flag, const std::string& text);
// zero | mean | blur.
vit::Baseline parse_baseline_flag(const std::string& flag, const std::string& text);
// A comma-separated list of the maps of vit::all_scored_maps() by name (random, centre, rollout,
// rollout-max, grad-rollout, chefer2021, chefer2021-lrp, attnlrp, last-attention, occlusion,
// grad-rollout-x-occlusion, rise),
// or "all", or "default" (vit::default_scored_maps()); RISE with rise_samples masks.
std::vector<vit::ScoredMap> parse_methods_flag(const std::string& flag, const std::string& text, int rise_samples);

}  // namespace vit_cli
