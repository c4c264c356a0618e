// Reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
//   8-byte little-endian header length N | N bytes of JSON header | raw tensor bytes.
// The JSON maps each tensor name to {dtype, shape, data_offsets:[begin,end]} (offsets relative to the
// end of the header) and may hold "__metadata__": {string: string}.
// Reading checks every offset, size and shape against the file; F32 loads as is, F16/BF16/F64 and the
// integer dtypes are converted to float32.
#pragma once
#include <map>
#include <string>

#include "vit/util/tensor.hpp"

namespace vit {

using Metadata = std::map<std::string, std::string>;

struct SafeTensors {
    TensorMap tensors;
    Metadata metadata;
};

// Throws IoError (cannot open/read) or FormatError (anything malformed), naming the file.
SafeTensors read_safetensors(const std::string& path);
SafeTensors parse_safetensors(const std::string& bytes, const std::string& name_for_errors);

// Only the "__metadata__" of a file (reads the header, not the tensors). Throws IoError or FormatError.
Metadata read_safetensors_metadata(const std::string& path);

// Writes F32 tensors through an AtomicFile (atomic_file.hpp), so an existing file is never left
// half-written, not even by a power cut. Throws IoError.
void write_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

}  // namespace vit
