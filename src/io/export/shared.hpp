// What the timm and Hugging Face exports (export.hpp) share: the checkpoint check and the output
// folder's rules. Private to the library.
#pragma once
#include <string>
#include <vector>

#include "vit/io/checkpoint.hpp"
#include "vit/io/safetensors.hpp"

namespace vit::detail {

// The checkpoint as an export writes it: validated (ConfigError naming its source, or dir when it has
// none) and holding exactly the model's tensors under timm's names (ShapeError for a missing or
// misshapen one; tensors the model does not use are left out).
Checkpoint exportable_checkpoint(const Checkpoint& ckpt, const std::string& dir);

// Makes dir ready to receive the files `writes` (names inside dir): creates it if absent, accepts it
// empty or as an earlier export, whose files that this export does not write are removed. Throws
// IoError for any other folder, naming what it holds.
void prepare_export_folder(const std::string& dir, const std::vector<std::string>& writes);

// Each float as the shortest decimal that reads back as it (0.485, not 0.48500001430511475).
std::vector<double> readable_floats(const std::vector<float>& v);

// The metadata of an exported model.safetensors: the mark prepare_export_folder looks for, and the
// "format" that transformers requires of a safetensors file.
Metadata export_metadata(const std::string& format);

}  // namespace vit::detail
