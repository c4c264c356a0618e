// Replacing a file so that readers, and the file system after a crash or power cut, see either the
// old content or the complete new one, never a partial or empty file.
#pragma once
#include <fstream>
#include <ostream>
#include <string>

namespace vit {

// Writes go to PATH.tmp.<pid> in PATH's folder. commit() flushes them, fsyncs the temporary (so its
// data is on disk before it gets the final name), renames it over PATH (atomic within one file
// system) and fsyncs the folder (so that the rename itself survives a power cut). Without commit()
// the destructor removes the temporary and PATH is left as it was.
class AtomicFile {
public:
    explicit AtomicFile(std::string path);  // throws IoError if the temporary cannot be created
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    std::ostream& stream() { return out_; }
    void commit();  // throws IoError naming PATH (the temporary is then removed)

private:
    std::string path_, tmp_;
    std::ofstream out_;
    bool committed_ = false;
};

// A whole text file written through an AtomicFile.
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace vit
