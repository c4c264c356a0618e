#include "vit/util/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "vit/util/error.hpp"

namespace vit {
namespace {

// fsync of a file or folder by name; errno is set on failure. A descriptor opened read-only suffices:
// fsync writes back the inode's data and metadata whichever descriptor names it.
bool sync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    errno = err;
    return ok;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    tmp_ = path_ + ".tmp." + std::to_string(::getpid());
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out_) throw IoError("cannot write " + path_ + ": cannot create " + tmp_ + ": " + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (!committed_) {
        out_.close();
        std::remove(tmp_.c_str());
    }
}

void AtomicFile::commit() {
    auto fail = [&](const std::string& what, int err) {
        out_.close();
        std::remove(tmp_.c_str());
        committed_ = true;  // nothing left for the destructor to remove
        throw IoError("cannot write " + path_ + ": " + what + (err ? std::string(": ") + std::strerror(err) : ""));
    };
    errno = 0;  // so that only the stream's own failure is reported
    out_.flush();
    if (!out_) fail("writing " + tmp_ + " failed (disk full?)", errno);
    errno = 0;
    out_.close();
    if (out_.fail()) fail("closing " + tmp_ + " failed", errno);
    if (!sync_path(tmp_, O_RDONLY)) fail("fsync of " + tmp_ + " failed", errno);
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename " + tmp_ + " to it", errno);
    committed_ = true;
    std::string dir = std::filesystem::path(path_).parent_path().string();
    if (dir.empty()) dir = ".";
    if (!sync_path(dir, O_RDONLY | O_DIRECTORY))
        throw IoError("cannot write " + path_ + ": fsync of its folder " + dir + " failed: " + std::strerror(errno));
}

void write_text_atomic(const std::string& path, const std::string& text) {
    AtomicFile file(path);
    file.stream() << text;
    file.commit();
}

}  // namespace vit
