// Fuzz target: a CIFAR binary file. The first byte picks the release and the layout of the folder
// (bit 0: CIFAR-100 rather than CIFAR-10; bit 1: CIFAR-100's coarse labels; bit 2: no test file, so that
// a validation split is held out instead); the rest is the training file, and the test file too where
// there is one. The folder is read through load_dataset, as `vit train --data` reads it.
#include <filesystem>

#include "fuzz_target.hpp"
#include "vit/data/dataset.hpp"

VIT_FUZZ_TARGET(cifar) {
    using namespace vit;
    namespace fs = std::filesystem;
    if (size < 1) return;
    const bool cifar100 = data[0] & 1, coarse = data[0] & 2, no_test = data[0] & 4;
    const fs::path dir = vit::fuzz::scratch_dir() / (cifar100 ? "cifar100" : "cifar10");
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string train = cifar100 ? "train.bin" : "data_batch_1.bin";
    const std::string test = cifar100 ? "test.bin" : "test_batch.bin";
    vit::fuzz::write_file(dir / train, data + 1, size - 1);
    if (!no_test) vit::fuzz::write_file(dir / test, data + 1, size - 1);

    LoadOptions opts;
    opts.cifar100_coarse = coarse;
    opts.val_split = no_test ? 0.25 : 0.0;
    opts.threads = 1;
    vit::fuzz::expect_typed_errors([&] {
        const DataSplit s = load_dataset(dir.string(), opts);
        for (const Dataset* d : {&s.train, &s.test}) {
            if (d->pixels.size() != d->size() * 3 * 32 * 32)
                vit::fuzz::invariant_failed("a CIFAR split's pixels do not match its images");
            for (int label : d->labels)
                if (label < 0 || label >= static_cast<int>(d->classes.size()))
                    vit::fuzz::invariant_failed("a CIFAR label is outside the class list");
        }
    });
}
