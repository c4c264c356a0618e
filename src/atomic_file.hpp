// Replacing a file atomically: the complete content is written and synced under a temporary name
// (PATH.tmp.<pid>), then renamed over PATH, so readers see either the old or the new file, never a
// partial one. Shared by every writer of the library (safetensors, ONNX).
#pragma once
#include <cstddef>
#include <string>

namespace vit {

class AtomicFile {
public:
    explicit AtomicFile(std::string path);  // creates the temporary file; IoError naming path
    ~AtomicFile();                          // without commit(): the temporary file is removed
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const char* data, size_t n);  // IoError naming path (e.g. disk full)
    void commit();                           // fsync, close, rename over path; IoError naming path

private:
    [[noreturn]] void fail(const std::string& what);

    std::string path_, tmp_;
    int fd_ = -1;
};

}  // namespace vit
