// A fresh empty folder per test under the system's temporary folder, removed afterwards.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

namespace vit_test {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "vit_test") {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path / name).string(); }
    std::filesystem::path operator/(const std::string& name) const { return path / name; }
    std::string str() const { return path.string(); }
};

}  // namespace vit_test
