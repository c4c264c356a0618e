// Fuzz target: a pair of IDX files (MNIST's format), plain or gzipped. The first two bytes give, big-endian,
// the length of the images file; it follows, and the rest is the labels file. Bit 15 of the length (its
// top bit) leaves out the t10k pair so that a validation split is held out; otherwise the same pair is
// also the test split. The folder is read through load_dataset.
#include <algorithm>
#include <filesystem>

#include "fuzz_target.hpp"
#include "vit/data/dataset.hpp"

VIT_FUZZ_TARGET(idx) {
    using namespace vit;
    namespace fs = std::filesystem;
    if (size < 2) return;
    const size_t header = (size_t(data[0]) << 8) | data[1];
    const bool no_test = header & 0x8000u;
    const size_t images = std::min(header & 0x7fffu, size - 2);
    const uint8_t* img = data + 2;
    const uint8_t* lab = img + images;
    const size_t labels = size - 2 - images;
    const fs::path dir = vit::fuzz::scratch_dir() / "mnist";
    fs::remove_all(dir);
    fs::create_directories(dir);
    vit::fuzz::write_file(dir / "train-images-idx3-ubyte", img, images);
    vit::fuzz::write_file(dir / "train-labels-idx1-ubyte", lab, labels);
    if (!no_test) {
        vit::fuzz::write_file(dir / "t10k-images-idx3-ubyte.gz", img, images);
        vit::fuzz::write_file(dir / "t10k-labels-idx1-ubyte.gz", lab, labels);
    }

    LoadOptions opts;
    opts.val_split = no_test ? 0.25 : 0.0;
    opts.threads = 1;
    vit::fuzz::expect_typed_errors([&] {
        const DataSplit s = load_dataset(dir.string(), opts);
        for (const Dataset* d : {&s.train, &s.test}) {
            if (d->pixels.size() != d->size() * size_t(d->height) * size_t(d->width) * size_t(d->channels))
                vit::fuzz::invariant_failed("an IDX split's pixels do not match its images");
            for (int label : d->labels)
                if (label < 0 || label >= static_cast<int>(d->classes.size()))
                    vit::fuzz::invariant_failed("an IDX label is outside the class list");
        }
    });
}
