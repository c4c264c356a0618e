#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "temp_dir.hpp"
#include "vit/util/error.hpp"
#include "vit/io/safetensors.hpp"

namespace fs = std::filesystem;
using namespace vit;

namespace {

using vit_test::TempDir;

// A safetensors byte string from a literal header and raw data bytes.
std::string make_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    const uint64_t n = header.size();
    std::memcpy(&out[0], &n, 8);
    return out + header + data;
}

template <typename T>
std::string raw(std::initializer_list<T> values) {
    std::string s;
    for (T v : values) s.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return s;
}

void expect_format_error(const std::string& bytes, const std::string& needle) {
    try {
        parse_safetensors(bytes, "bad.safetensors");
        FAIL() << "expected FormatError containing '" << needle << "'";
    } catch (const FormatError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
}

}  // namespace

TEST(SafeTensors, RoundTripWithMetadata) {
    TempDir dir;
    TensorMap tensors;
    tensors["b"] = Tensor({2, 3}, {1, 2, 3, 4, 5, 6});
    tensors["a.weight"] = Tensor({4}, {-1.5f, 0.0f, 3.25f, 1e-30f});
    tensors["scalar"] = Tensor(Shape{}, std::vector<float>{7.0f});
    tensors["empty"] = Tensor({0, 5});
    const Metadata meta = {{"format", "pt"}, {"note", "héllo \"quoted\""}};
    const std::string path = dir.file("x.safetensors");
    write_safetensors(path, tensors, meta);

    const SafeTensors st = read_safetensors(path);
    EXPECT_EQ(st.metadata, meta);
    ASSERT_EQ(st.tensors.size(), tensors.size());
    for (const auto& [name, t] : tensors) {
        ASSERT_TRUE(st.tensors.count(name)) << name;
        EXPECT_EQ(st.tensors.at(name).shape, t.shape) << name;
        EXPECT_EQ(st.tensors.at(name).data, t.data) << name;
    }
    // Header padded to a multiple of 8, no temporary left behind.
    std::ifstream in(path, std::ios::binary);
    uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 8);
    EXPECT_EQ(n % 8, 0u);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
}

TEST(SafeTensors, ReadsReferenceFixture) {
    const SafeTensors st = read_safetensors(std::string(VIT_TEST_DATA) + "/timm-vit-small32/model.safetensors");
    EXPECT_EQ(st.metadata.at("format"), "pt");
    EXPECT_EQ(st.tensors.at("pos_embed").shape, (Shape{1, 65, 64}));
    EXPECT_EQ(st.tensors.at("blocks.1.attn.qkv.weight").shape, (Shape{192, 64}));
}

TEST(SafeTensors, TruncatedFile) {
    expect_format_error("", "shorter than");
    expect_format_error(std::string("\x10\0\0", 3), "shorter than");
}

TEST(SafeTensors, HeaderLengthPastEnd) {
    std::string b = make_bytes("{}", "");
    b[0] = 100;  // claims a 100-byte header
    expect_format_error(b, "past the end");
    std::string huge(8, '\xff');
    expect_format_error(huge, "implausibly large");
}

TEST(SafeTensors, InvalidJsonAndShapes) {
    expect_format_error(make_bytes("{\"a\": ", ""), "not valid JSON");
    expect_format_error(make_bytes("[1, 2]", ""), "not a JSON object");
    expect_format_error(make_bytes(R"({"__metadata__": {"k": 1}})", ""), "__metadata__");
    expect_format_error(make_bytes(R"({"__metadata__": []})", ""), "__metadata__");
    expect_format_error(make_bytes(R"({"t": 3})", ""), "'t'");
    expect_format_error(make_bytes(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", raw<float>({1})), "dtype");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})", raw<float>({1})), "shape");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [1]}})", raw<float>({1})), "data_offsets");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                                   raw<float>({1})),
                        "non-negative");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
                                   raw<float>({1})),
                        "non-negative");
    // numel * 4 != byte count
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})",
                                   raw<float>({1})),
                        "does not match");
    // Overflowing shapes do not wrap around.
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [4611686018427387904, 4, 2], )"
                                   R"("data_offsets": [0, 0]}})",
                                   ""),
                        "does not match");
}

TEST(SafeTensors, UnsupportedDtype) {
    expect_format_error(make_bytes(R"({"t": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}})",
                                   raw<double>({1})),
                        "unsupported dtype 'C64'");
    expect_format_error(make_bytes(R"({"t": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}})", "\x01"),
                        "'t'");
}

TEST(SafeTensors, OffsetsOutOfRange) {
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                                   raw<float>({1})),
                        "past the end");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}})",
                                   raw<float>({1})),
                        "begin");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, -4]}})",
                                   raw<float>({1})),
                        "data_offsets");
}

TEST(SafeTensors, OverlappingOffsetsAreTolerated) {
    const SafeTensors st = parse_safetensors(
        make_bytes(R"({"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},)"
                   R"( "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                   raw<float>({1, 2})),
        "x");
    EXPECT_EQ(st.tensors.at("a").data, (std::vector<float>{1, 2}));
    EXPECT_EQ(st.tensors.at("b").data, (std::vector<float>{2}));
}

TEST(SafeTensors, ConvertsHalfBfloatAndIntegers) {
    // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800, 65504 = 0x7BFF, smallest subnormal 0x0001 = 2^-24.
    // BF16: 1.0 = 0x3F80, -3.0 = 0xC040.
    const std::string data = raw<uint16_t>({0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001}) +
                             raw<uint16_t>({0x3F80, 0xC040}) + raw<double>({0.25}) + raw<int64_t>({-7}) +
                             raw<int8_t>({-3}) + raw<uint8_t>({250});
    const std::string header =
        R"({"h": {"dtype": "F16", "shape": [5], "data_offsets": [0, 10]},)"
        R"( "bf": {"dtype": "BF16", "shape": [2], "data_offsets": [10, 14]},)"
        R"( "d": {"dtype": "F64", "shape": [1], "data_offsets": [14, 22]},)"
        R"( "l": {"dtype": "I64", "shape": [1], "data_offsets": [22, 30]},)"
        R"( "i8": {"dtype": "I8", "shape": [1], "data_offsets": [30, 31]},)"
        R"( "u8": {"dtype": "U8", "shape": [1], "data_offsets": [31, 32]}})";
    const SafeTensors st = parse_safetensors(make_bytes(header, data), "conv");
    EXPECT_EQ(st.tensors.at("h").data, (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f, 5.9604644775390625e-8f}));
    EXPECT_EQ(st.tensors.at("bf").data, (std::vector<float>{1.0f, -3.0f}));
    EXPECT_EQ(st.tensors.at("d").data, (std::vector<float>{0.25f}));
    EXPECT_EQ(st.tensors.at("l").data, (std::vector<float>{-7.0f}));
    EXPECT_EQ(st.tensors.at("i8").data, (std::vector<float>{-3.0f}));
    EXPECT_EQ(st.tensors.at("u8").data, (std::vector<float>{250.0f}));
}

TEST(SafeTensors, RandomCorruptionNeverCrashes) {
    TempDir dir;
    TensorMap t;
    t["w"] = Tensor({3, 4}, 1.0f);
    t["v"] = Tensor({5}, 2.0f);
    const std::string path = dir.file("c.safetensors");
    write_safetensors(path, t, {{"k", "v"}});
    std::ifstream in(path, std::ios::binary);
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::mt19937 rng(1234);
    for (int i = 0; i < 3000; ++i) {
        std::string b = good;
        if (i % 3 == 0) b.resize(rng() % b.size());
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips && !b.empty(); ++f) b[rng() % b.size()] = static_cast<char>(rng());
        try {
            parse_safetensors(b, "fuzz");
        } catch (const FormatError&) {
        }
    }
}

TEST(SafeTensors, MissingFileIsIoError) {
    try {
        read_safetensors("/nonexistent/dir/model.safetensors");
        FAIL();
    } catch (const IoError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.safetensors"), std::string::npos);
    }
    TempDir dir;
    EXPECT_THROW(read_safetensors(dir.path.string()), IoError);  // a directory
}

TEST(SafeTensors, FailedWriteLeavesOldFileAndNoTemporary) {
    TempDir dir;
    // Target is a directory: the temporary is written, the rename fails, and the temporary is removed.
    fs::create_directories(dir.path / "target" / "inner");
    TensorMap t;
    t["w"] = Tensor({2}, {1, 2});
    EXPECT_THROW(write_safetensors(dir.file("target"), t), IoError);
    EXPECT_TRUE(fs::is_directory(dir.path / "target" / "inner"));
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);

    // Unwritable location: nothing is created.
    EXPECT_THROW(write_safetensors(dir.file("missing/sub/x.safetensors"), t), IoError);

    // An existing file is replaced atomically by a complete new one.
    const std::string path = dir.file("m.safetensors");
    write_safetensors(path, t);
    t["w"] = Tensor({3}, {4, 5, 6});
    write_safetensors(path, t);
    EXPECT_EQ(read_safetensors(path).tensors.at("w").data, (std::vector<float>{4, 5, 6}));

#ifdef __linux__
    // Disk full: /dev/full fails every write with ENOSPC. Only possible where we may create a link
    // named like our temporary in a writable directory, pointing at /dev/full.
    const std::string full = dir.file("full.safetensors");
    write_safetensors(full, t);
    const std::string tmp = full + ".tmp." + std::to_string(::getpid());
    if (::symlink("/dev/full", tmp.c_str()) == 0) {
        EXPECT_THROW(write_safetensors(full, t), IoError);
        EXPECT_EQ(read_safetensors(full).tensors.at("w").data, (std::vector<float>{4, 5, 6}));
        EXPECT_FALSE(fs::exists(fs::symlink_status(tmp)));
    }
#endif
}

TEST(SafeTensors, MetadataAloneIsReadFromTheHeaderAndBadHeadersAreFormatErrors) {
    TempDir dir;
    const std::string path = dir.file("m.safetensors");
    write_safetensors(path, {{"w", Tensor({2}, {1.0f, 2.0f})}}, {{"format", "pt"}, {"k", "v"}});
    EXPECT_EQ(read_safetensors_metadata(path), (Metadata{{"format", "pt"}, {"k", "v"}}));
    write_safetensors(path, {{"w", Tensor({2}, {1.0f, 2.0f})}});
    EXPECT_TRUE(read_safetensors_metadata(path).empty());

    std::ofstream(dir.file("short.safetensors"), std::ios::binary) << make_bytes("{\"__metadata__\": {}}", "").substr(0, 12);
    EXPECT_THROW(read_safetensors_metadata(dir.file("short.safetensors")), FormatError);
    std::ofstream(dir.file("bad.safetensors"), std::ios::binary) << make_bytes("{\"__metadata__\": {\"k\": 1}}", "");
    EXPECT_THROW(read_safetensors_metadata(dir.file("bad.safetensors")), FormatError);
    EXPECT_THROW(read_safetensors_metadata(dir.file("absent.safetensors")), IoError);
}

TEST(SafeTensors, HugeClaimsAreRefusedBeforeAllocation) {
    // A header length within the 100 MB plausibility bound but far beyond the file: refused from the
    // file's size (which the message gives) by both readers, before a buffer of that length is made.
    TempDir dir;
    const std::string path = dir.file("claims.safetensors");
    std::string b = make_bytes("{}", "");
    const uint64_t claimed = 99'000'000;
    std::memcpy(&b[0], &claimed, 8);
    std::ofstream(path, std::ios::binary) << b;
    for (auto read : {+[](const std::string& p) { read_safetensors(p); },
                      +[](const std::string& p) { read_safetensors_metadata(p); }}) {
        try {
            read(path);
            ADD_FAILURE() << "expected FormatError";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find("runs past the end of the file (10 bytes)"), std::string::npos)
                << e.what();
        }
    }
    // Offsets and shapes that claim more than the file holds, or more than 64 bits can count.
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551615]}})",
                                   raw<float>({1})),
                        "past the end");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F32", "shape": [18446744073709551615], "data_offsets": [0, 4]}})",
                                   raw<float>({1})),
                        "dimension too large");
    expect_format_error(make_bytes(R"({"t": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
                                   raw<double>({1})),
                        "does not match");
}
