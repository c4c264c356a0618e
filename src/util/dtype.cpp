#include "vit/util/dtype.hpp"

#include "vit/util/error.hpp"

namespace vit {

namespace {
// Every dtype with its name, spelled once: to_string, parse_dtype and the error message read it.
struct Named {
    Dtype dtype;
    const char* name;
};
constexpr Named kDtypes[] = {{Dtype::F32, "f32"}, {Dtype::BF16, "bf16"}, {Dtype::Int8, "int8"}};
}  // namespace

const char* to_string(Dtype d) {
    for (const Named& n : kDtypes)
        if (n.dtype == d) return n.name;
    return "f32";
}

Dtype parse_dtype(const std::string& s) {
    std::string names;
    for (const Named& n : kDtypes) {
        if (s == n.name) return n.dtype;
        names += names.empty() ? "" : ", ";
        names += n.name;
    }
    throw ConfigError("unknown dtype '" + s + "' (expected one of " + names + ")");
}

}  // namespace vit
