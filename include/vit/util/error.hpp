// Typed errors thrown by the library. Only tools/ turns them into messages and exit codes.
// Every message names the file, tensor or option involved and, for shapes, expected vs actual.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace vit {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A file or folder that cannot be opened, read or written (missing, permissions, disk full).
struct IoError : Error {
    using Error::Error;
};
// A file whose content is malformed: truncated safetensors, bad JSON, bad offsets, wrong magic.
struct FormatError : Error {
    using Error::Error;
};
// A tensor whose shape differs from what the model configuration requires, or which is missing.
struct ShapeError : Error {
    using Error::Error;
};
// An invalid configuration value or option (bad model config, unknown enum name, out-of-range flag).
struct ConfigError : Error {
    using Error::Error;
};
// One field of an options struct out of its range: what() reads "<Struct>::<field> <requirement>, got
// <value>"; field ("lr", "optim.label_smoothing") and requirement ("must be positive") are kept apart
// for a caller that names the field its own way (the program names its flag).
struct FieldError : ConfigError {
    FieldError(const std::string& owner, std::string field_name, std::string requirement_text, const std::string& got)
        : ConfigError(owner + "::" + field_name + " " + requirement_text + ", got " + got),
          field(std::move(field_name)), requirement(std::move(requirement_text)) {}
    std::string field, requirement;
};
// An image that cannot be decoded.
struct ImageError : Error {
    using Error::Error;
};
// A number format or kernel that this CPU (as oneDNN sees it, ONEDNN_MAX_CPU_ISA included) cannot run.
struct UnsupportedError : Error {
    using Error::Error;
};
// A computation whose memory, estimated before allocating, exceeds what the system has available.
struct MemoryError : Error {
    using Error::Error;
};

}  // namespace vit
