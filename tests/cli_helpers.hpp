// Running the `vit` program from tests: exit status (a crash shows as a signal), stdout, stderr, and
// a per-test temporary folder.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vit_test {

namespace fs = std::filesystem;

inline const std::string kBinary = VIT_BINARY;
inline const std::string kSource = VIT_SOURCE_DIR;
inline const std::string kModel = kSource + "/models/random-cifar-t.safetensors";  // random weights
inline const std::string kSamples = kSource + "/datasets/samples";
inline const std::string kFixture = std::string(VIT_TEST_DATA) + "/timm-vit-small32";

inline std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Result {
    bool exited = false;    // ended through exit(), not a signal
    bool signaled = false;  // killed by a signal (a crash)
    int code = -1;
    std::string out, err;
};

// Splits one CSV line (RFC 4180 quoting, no embedded line breaks).
inline std::vector<std::string> csv_split(const std::string& line) {
    std::vector<std::string> fields;
    std::string cur;
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                cur += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cur += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    fields.push_back(cur);
    return fields;
}

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) lines.push_back(line);
    return lines;
}

// Runs a shell command line: stdout captured, stderr through the file err (then read back).
inline Result run_command(const std::string& cmd, const fs::path& err) {
    Result r;
    FILE* pipe = ::popen((cmd + " 2>" + quote(err.string())).c_str(), "r");
    if (!pipe) {
        ADD_FAILURE() << "popen failed for " << cmd;
        return r;
    }
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
    const int status = ::pclose(pipe);
    r.exited = WIFEXITED(status);
    r.signaled = WIFSIGNALED(status);
    r.code = r.exited ? WEXITSTATUS(status) : -1;
    r.err = read_file(err);
    return r;
}

class Cli : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        tmp_ = fs::temp_directory_path() /
               ("vit_test_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::create_directories(tmp_);
        ASSERT_TRUE(fs::exists(kBinary)) << "vit binary not built: " << kBinary;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(tmp_, ec);
    }

    // Runs `vit ARGS` with stdout captured and stderr in a file. `exec` makes the shell replace itself
    // with vit, so a crash shows up as a signal here instead of as the shell's exit status 128+N.
    Result run(const std::string& args) {
        const fs::path err = tmp_ / "stderr.txt";
        return run_command("exec " + quote(kBinary) + " " + args, err);
    }
    // The same on a smaller CPU: `vit ARGS` under ONEDNN_MAX_CPU_ISA=isa (AVX2, SSE41, ...), which caps
    // oneDNN's kernels and ours alike.
    Result run_capped(const std::string& isa, const std::string& args) {
        const fs::path err = tmp_ / "stderr.txt";
        return run_command("exec env ONEDNN_MAX_CPU_ISA=" + quote(isa) + " " + quote(kBinary) + " " + args, err);
    }

    fs::path tmp_;
};

}  // namespace vit_test

#define EXPECT_CLEAN_EXIT(r, expected)                                                    \
    do {                                                                                  \
        EXPECT_FALSE((r).signaled) << "vit was killed by a signal; stderr:\n" << (r).err; \
        EXPECT_TRUE((r).exited);                                                          \
        EXPECT_EQ((r).code, (expected)) << "stderr:\n" << (r).err;                        \
    } while (0)

