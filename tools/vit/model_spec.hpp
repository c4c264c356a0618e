// Model configuration files (models/configs/*.json): timm VisionTransformer keyword arguments plus
// optionally
//   "preprocess": {"interpolation": "bicubic"|"bilinear", "resize_mode": "shorter_side_crop"|"squash"|
//                  "border"|"direct",
//                  "crop_pct": 0.9, "mean": [...], "std": [...]}
//   "labels": ["name", ...]
// The preprocessing size and channel count always follow the model (img_size, in_chans).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vit/model/config.hpp"
#include "vit/image/preprocess.hpp"

namespace vit_cli {

struct ModelSpec {
    vit::ViTConfig config;
    vit::PreprocessConfig preprocess;
    std::vector<std::string> labels;  // num_classes entries (class_<i> where the file has none)
    std::string source;               // the file it was read from
};

// NAME_OR_FILE: a path to a JSON file, or a name looked up as NAME.json in the installed data folder
// (../share/vit/configs relative to the binary), in models/configs beside the program (../models/configs
// relative to the binary) or under the current folder, and last in the source tree's models/configs.
// Throws vit::IoError naming the places tried, vit::FormatError / vit::ConfigError for bad content.
ModelSpec load_model_spec(const std::string& name_or_file);

// The lookup behind load_model_spec, shared with the other named JSON files (training recipes):
// NAME_OR_FILE itself when it is a file, else models/FOLDER/NAME.json beside the program, one level
// up, or under the current folder. Throws vit::IoError naming `what` and the places tried.
std::string resolve_named_file(const std::string& name_or_file, const std::string& folder, const std::string& what);

struct NamedJson {
    std::string source;   // the file it was read from
    nlohmann::json json;  // a JSON object
};
// resolve_named_file, then the file parsed; vit::FormatError unless it holds a JSON object.
NamedJson load_named_json(const std::string& name_or_file, const std::string& folder, const std::string& what);

// "a,b,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& text);

}  // namespace vit_cli
