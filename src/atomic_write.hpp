// Whole-file writes that readers never see half done. Private to the library.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace vit::detail {

// Writes the pieces, in order, to PATH.tmp.<pid>, syncs it to disk, then renames it over PATH: a
// reader sees the old file or the new one, never a partial one, and a failure leaves PATH as it was
// (the temporary is removed). Throws IoError naming PATH.
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces);

}  // namespace vit::detail
