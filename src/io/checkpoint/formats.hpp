// The checkpoint formats behind load_checkpoint (include/vit/model/checkpoint.hpp), one file each, and the
// JSON field readers they share. Private to the library.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vit/io/checkpoint.hpp"
#include "vit/io/safetensors.hpp"

namespace vit::detail {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---- JSON fields: every wrong type is a ConfigError naming the file and the key (json_fields.cpp) ----
[[noreturn]] void config_error(const std::string& src, const std::string& what);
int get_int(const json& j, const char* key, int def, const std::string& src);
double get_num(const json& j, const char* key, double def, const std::string& src);
bool get_bool(const json& j, const char* key, bool def, const std::string& src);
std::string get_str(const json& j, const char* key, const std::string& def, const std::string& src);
std::vector<float> get_floats(const json& j, const char* key, std::vector<float> def, const std::string& src);
std::vector<std::string> get_strings(const json& j, const std::string& src, const std::string& what);
// Labels given as an index-to-name object ({"0": "cat", "1": "dog"}), which must cover 0..N-1.
std::vector<std::string> index_labels(const json& j, const std::string& src, const std::string& what);
// An image size given as an int (square) or [h, w].
void get_size(const json& j, const char* key, int& h, int& w, const std::string& src);
json parse_json_text(const std::string& text, const std::string& src);
json read_json_file(const fs::path& p);

// The shortest decimal that reads back as the same float (1e-06, not 9.99999997e-07), for readable JSON.
double shortest_double(float f);

// ---- formats ----
// timm folder (timm_folder.cpp): config.json with VisionTransformer kwargs or the Hub layout.
Checkpoint load_timm(const json& cfg, const fs::path& cfg_path, TensorMap weights);
// The pretrained_cfg crop_mode that load_timm reads back as `mode` (for the timm export; a direct resize
// is "squash", to be written with crop_pct 1).
const char* timm_crop_mode_name(ResizeMode mode);
// Hugging Face folder (hf_folder.cpp): config.json names a transformers model_type (or architectures).
// Tensor errors name weights_file.
bool is_hf_config(const json& cfg);
Checkpoint load_hf(const json& cfg, const fs::path& cfg_path, TensorMap weights, const std::string& weights_file);
// Our single file with the configuration in its metadata (native_file.cpp).
bool is_native(const SafeTensors& st);
Checkpoint load_native(SafeTensors st, const std::string& path);

}  // namespace vit::detail
