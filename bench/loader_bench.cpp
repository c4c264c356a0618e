// The training data path alone, without a model: an image folder streamed from disk (Cache::None) through
// timm's photo transform (random resized crop, flip, RandAugment at the model's size), normalised and
// batched on --workers threads, as `vit train --scale ...` feeds its steps. Prints one JSON line: images/s
// after the first batch, and the process's peak resident memory. scripts/bench_loader.sh runs it beside
// PyTorch's DataLoader with timm's transform (scripts/bench_loader_torch.py) on the same folder.
//
//   vit_loader_bench FOLDER [SIZE=224] [BATCH=64] [WORKERS=2] [BATCHES=50] [AA=rand-m9-mstd0.5-inc1]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "vit/data/dataset.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: vit_loader_bench FOLDER [SIZE] [BATCH] [WORKERS] [BATCHES] [AA]\n");
        return 2;
    }
    try {
        const std::string folder = argv[1];
        const int size = argc > 2 ? std::stoi(argv[2]) : 224;
        const int batch = argc > 3 ? std::stoi(argv[3]) : 64;
        const int workers = argc > 4 ? std::stoi(argv[4]) : 2;
        const int batches = argc > 5 ? std::stoi(argv[5]) : 50;
        const std::string aa = argc > 6 ? argv[6] : "rand-m9-mstd0.5-inc1";

        vit::LoadOptions lo;
        lo.channels = 3;
        lo.height = lo.width = size;
        lo.cache = vit::Cache::None;
        vit::PreprocessConfig eval;
        eval.height = eval.width = size;
        lo.eval_transform = eval;
        const auto t_list = std::chrono::steady_clock::now();
        const vit::DataSplit data = vit::load_dataset(folder, lo);
        const double list_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_list).count();

        vit::Augment aug;
        aug.resized_crop.enabled = true;
        aug.hflip = 0.5f;
        aug.auto_augment = vit::parse_auto_augment(aa);
        vit::LoaderOptions o;
        o.shuffle = true;
        o.drop_last = true;
        o.workers = workers;
        vit::BatchLoader loader(data.train, batch, aug, eval.mean, eval.std, o);
        loader.start_epoch(0);
        vit::Batch b;
        loader.next(b);  // the first batch pays for starting the threads
        const auto t0 = std::chrono::steady_clock::now();
        int done = 0;
        while (done < batches && loader.next(b)) ++done;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        const nlohmann::json j{{"engine", "vit"},          {"images", data.train.size()},
                               {"list_s", list_s},          {"batch", batch},
                               {"workers", workers},        {"batches", done},
                               {"img_per_s", done * batch / s}, {"peak_rss_mb", ru.ru_maxrss / 1024.0},
                               {"skipped", loader.skipped_images()}};
        std::printf("%s\n", j.dump().c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vit_loader_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
