#include "vit/dtype.hpp"

#include "vit/error.hpp"

namespace vit {

const char* to_string(Dtype d) { return d == Dtype::BF16 ? "bf16" : "f32"; }

Dtype parse_dtype(const std::string& s) {
    if (s == "f32") return Dtype::F32;
    if (s == "bf16") return Dtype::BF16;
    throw ConfigError("unknown dtype '" + s + "' (expected f32 or bf16)");
}

}  // namespace vit
