#include "vit/io/safetensors.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "vit/util/atomic_file.hpp"
#include "vit/util/error.hpp"

namespace vit {

namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; a larger length is corruption, and
// refusing it early avoids allocating gigabytes for a garbage length field.
constexpr uint64_t kMaxHeader = 100u * 1000u * 1000u;

[[noreturn]] void bad(const std::string& file, const std::string& what) {
    throw FormatError(file + ": " + what);
}
[[noreturn]] void bad_tensor(const std::string& file, const std::string& tensor, const std::string& what) {
    throw FormatError(file + ": tensor '" + tensor + "': " + what);
}

// All multi-byte values in the file are little-endian; the host is assumed little-endian too (x86,
// ARM), so reading a value is a byte copy (memcpy, since the data need not be aligned).
template <typename T>
T load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

// IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Rebuild the float32 bit pattern:
// normal numbers re-bias the exponent (+112 = 127-15), subnormals are value = m * 2^-24,
// and exponent 31 is inf/NaN.
float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        const float v = static_cast<float>(man) * (1.0f / 16777216.0f);  // 2^-24
        return sign ? -v : v;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// bfloat16 is the upper half of a float32.
float bf16_to_float(uint16_t b) {
    const uint32_t bits = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Element size of a supported dtype, 0 if unsupported.
size_t dtype_size(const std::string& d) {
    if (d == "F32" || d == "I32") return 4;
    if (d == "F16" || d == "BF16" || d == "I16") return 2;
    if (d == "F64" || d == "I64") return 8;
    if (d == "I8" || d == "U8") return 1;
    return 0;
}

void convert(const std::string& dtype, const char* src, size_t n, float* dst) {
    if (n == 0) return;
    if (dtype == "F32") {
        std::memcpy(dst, src, n * 4);
        return;
    }
    for (size_t i = 0; i < n; ++i) {
        if (dtype == "F16") dst[i] = half_to_float(load<uint16_t>(src + 2 * i));
        else if (dtype == "BF16") dst[i] = bf16_to_float(load<uint16_t>(src + 2 * i));
        else if (dtype == "F64") dst[i] = static_cast<float>(load<double>(src + 8 * i));
        else if (dtype == "I64") dst[i] = static_cast<float>(load<int64_t>(src + 8 * i));
        else if (dtype == "I32") dst[i] = static_cast<float>(load<int32_t>(src + 4 * i));
        else if (dtype == "I16") dst[i] = static_cast<float>(load<int16_t>(src + 2 * i));
        else if (dtype == "I8") dst[i] = static_cast<float>(static_cast<int8_t>(src[i]));
        else dst[i] = static_cast<float>(static_cast<uint8_t>(src[i]));
    }
}

// A JSON integer that is >= 0, as uint64; false for anything else (float, negative, string...).
bool as_uint(const json& j, uint64_t& out) {
    if (j.is_number_unsigned()) {
        out = j.get<uint64_t>();
        return true;
    }
    if (j.is_number_integer() && j.get<int64_t>() >= 0) {
        out = static_cast<uint64_t>(j.get<int64_t>());
        return true;
    }
    return false;
}

Tensor parse_entry(const std::string& file, const std::string& name, const json& e, const char* data,
                   uint64_t data_size) {
    if (!e.is_object()) bad_tensor(file, name, "header entry is not an object");
    auto d = e.find("dtype");
    auto s = e.find("shape");
    auto o = e.find("data_offsets");
    if (d == e.end() || !d->is_string()) bad_tensor(file, name, "missing or non-string 'dtype'");
    if (s == e.end() || !s->is_array()) bad_tensor(file, name, "missing or non-array 'shape'");
    if (o == e.end() || !o->is_array() || o->size() != 2)
        bad_tensor(file, name, "missing 'data_offsets' or not a [begin, end] pair");

    const std::string dtype = d->get<std::string>();
    const size_t esize = dtype_size(dtype);
    if (esize == 0) bad_tensor(file, name, "unsupported dtype '" + dtype + "'");

    // Element count with overflow checks: every partial product must stay within the data region
    // (divided by the element size), otherwise the tensor cannot fit anyway.
    Shape shape;
    uint64_t numel = 1;
    const uint64_t max_elems = data_size / esize;
    for (const json& dim : *s) {
        uint64_t v;
        if (!as_uint(dim, v)) bad_tensor(file, name, "shape entries must be non-negative integers");
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            bad_tensor(file, name, "dimension too large");
        shape.push_back(static_cast<int64_t>(v));
        if (v != 0 && numel > max_elems / v) numel = max_elems + 1;  // saturate: too big for the file
        else numel *= v;
    }

    uint64_t begin, end;
    if (!as_uint((*o)[0], begin) || !as_uint((*o)[1], end))
        bad_tensor(file, name, "data_offsets must be non-negative integers");
    if (begin > end)
        bad_tensor(file, name, "data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
    if (end > data_size)
        bad_tensor(file, name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                   "] past the end of the data (" + std::to_string(data_size) + " bytes)");
    if (numel > max_elems || numel * esize != end - begin)
        bad_tensor(file, name, "shape " + shape_str(shape) + " of " + dtype + " does not match its " +
                                   std::to_string(end - begin) + " bytes");

    Tensor t;
    t.shape = std::move(shape);
    t.data.resize(static_cast<size_t>(numel));
    convert(dtype, data + begin, static_cast<size_t>(numel), t.data.data());
    return t;
}

Metadata parse_metadata(const std::string& file, const json& m) {
    if (!m.is_object()) bad(file, "__metadata__ is not an object");
    Metadata out;
    for (auto it = m.begin(); it != m.end(); ++it) {
        if (!it->is_string()) bad(file, "__metadata__ value '" + it.key() + "' is not a string");
        out[it.key()] = it->get<std::string>();
    }
    return out;
}

}  // namespace

SafeTensors parse_safetensors(const std::string& bytes, const std::string& file) {
    if (bytes.size() < 8)
        bad(file, "file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
    const uint64_t n = load<uint64_t>(bytes.data());
    if (n > kMaxHeader) bad(file, "header length " + std::to_string(n) + " is implausibly large");
    if (n > bytes.size() - 8)
        bad(file, "header length " + std::to_string(n) + " runs past the end of the file (" +
                      std::to_string(bytes.size()) + " bytes)");

    const json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n),
                                    nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded()) bad(file, "header is not valid JSON");
    if (!header.is_object()) bad(file, "header is not a JSON object");

    const char* data = bytes.data() + 8 + n;
    const uint64_t data_size = bytes.size() - 8 - n;

    SafeTensors out;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            out.metadata = parse_metadata(file, *it);
            continue;
        }
        out.tensors[it.key()] = parse_entry(file, it.key(), *it, data, data_size);
    }
    return out;
}

SafeTensors read_safetensors(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        throw IoError("cannot open " + path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw IoError("cannot read " + path + ": is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot open " + path + ": " + std::strerror(errno));
    std::string bytes;
    bytes.resize(static_cast<size_t>(st.st_size));
    in.read(&bytes[0], static_cast<std::streamsize>(bytes.size()));
    if (in.gcount() != static_cast<std::streamsize>(bytes.size()))
        throw IoError("cannot read " + path + ": short read");
    return parse_safetensors(bytes, path);
}

Metadata read_safetensors_metadata(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot open " + path + ": " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    in.seekg(0, std::ios::beg);
    char len[8];
    if (size < 8 || !in.read(len, 8)) bad(path, "shorter than the 8-byte header length");
    const uint64_t n = load<uint64_t>(len);
    if (n > kMaxHeader) bad(path, "header length " + std::to_string(n) + " is implausibly large");
    // Checked against the file's size before the header's buffer is allocated.
    if (n > static_cast<uint64_t>(size) - 8)
        bad(path, "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
                      " bytes)");
    std::string text(static_cast<size_t>(n), '\0');
    if (!in.read(&text[0], static_cast<std::streamsize>(n))) throw IoError("cannot read " + path + ": short read");
    const json header = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded()) bad(path, "header is not valid JSON");
    if (!header.is_object()) bad(path, "header is not a JSON object");
    auto it = header.find("__metadata__");
    return it == header.end() ? Metadata{} : parse_metadata(path, *it);
}

void write_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
    // Header: tensors in name order (TensorMap is sorted), data laid out contiguously in that order.
    json header = json::object();
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (name == "__metadata__") throw FormatError(path + ": '__metadata__' cannot name a tensor");
        if (t.numel() != shape_numel(t.shape))
            throw ShapeError(path + ": tensor '" + name + "' has " + std::to_string(t.numel()) +
                             " values for shape " + shape_str(t.shape));
        const uint64_t bytes = static_cast<uint64_t>(t.numel()) * 4;
        header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;

    std::string text;
    try {
        text = header.dump();
    } catch (const json::exception& e) {  // e.g. a name that is not valid UTF-8
        throw FormatError(path + ": cannot encode header: " + e.what());
    }
    // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
    text.append((8 - text.size() % 8) % 8, ' ');
    char len[8];
    const uint64_t n = text.size();
    std::memcpy(len, &n, 8);

    // Readers see either the old or the complete new file, even after a power cut (AtomicFile).
    AtomicFile file(path);
    std::ostream& out = file.stream();
    out.write(len, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : tensors)
        out.write(reinterpret_cast<const char*>(t.ptr()), static_cast<std::streamsize>(t.data.size() * 4));
    file.commit();
}

}  // namespace vit
