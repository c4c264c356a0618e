#include "explain_evaluate.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "image_batches.hpp"
#include "progress.hpp"
#include "vit/image/preprocess.hpp"

namespace fs = std::filesystem;

namespace vit_cli {
namespace {

// Every image of a folder (recursively), decoded and preprocessed on worker threads; failures warned.
std::vector<float> read_folder(const std::string& dir, const vit::PreprocessConfig& pre, const FaithfulnessRun& run,
                               size_t& count) {
    size_t failed = 0;
    const std::vector<std::string> paths = collect_inputs({dir}, failed);
    if (paths.empty()) throw vit::IoError("no images found in " + dir);
    const int batch = 256;
    ImageBatches loader(paths, pre, batch, run.workers, run.image_limits);
    const size_t floats = loader.image_floats();
    std::vector<float> out;
    out.reserve(paths.size() * floats);
    std::vector<size_t> ok;
    Progress progress("explain --evaluate (decoding)", paths.size());
    for (int b = 0; b < loader.num_batches(); ++b) {
        const float* x = wait_decoded(loader, b, paths, ok, failed);
        out.insert(out.end(), x, x + ok.size() * floats);
        loader.release(b);
        progress.update(size_t(b) * size_t(batch) + size_t(loader.batch_count(b)));
    }
    count = out.size() / floats;
    return out;
}

// The test split of a CIFAR or IDX dataset, normalised for the model by the batch loader (no
// augmentation, dataset order).
std::vector<float> read_test_split(const std::string& path, const vit::PreprocessConfig& pre,
                                   const FaithfulnessRun& run, size_t& count) {
    vit::LoadOptions lo;
    lo.channels = pre.channels;
    lo.height = pre.height;
    lo.width = pre.width;
    lo.threads = run.workers;
    lo.image_limits = run.image_limits;
    lo.warn = [](const std::string& m) { warn(m); };
    const vit::Dataset test = vit::load_dataset(path, lo).test;
    vit::LoaderOptions order;
    order.workers = run.workers;
    vit::BatchLoader loader(test, 256, vit::Augment{}, pre.mean, pre.std, order);
    std::vector<float> out;
    vit::Batch b;
    Progress progress("explain --evaluate (reading)", test.size());
    size_t done = 0;
    while (loader.next(b)) {
        out.insert(out.end(), b.x.begin(), b.x.end());
        progress.update(done += size_t(b.n));
    }
    count = test.size();
    return out;
}

// The evaluation images (N, C, H, W), normalised for the model: the test split of a binary dataset;
// of an image folder its test/ sub-folder where it has one (the layout `vit train` reads), otherwise
// every image in it, labelled or not.
std::vector<float> load_images(const vit::Model& model, const FaithfulnessRun& run, size_t& count) {
    const vit::PreprocessConfig& pre = model.preprocess();
    if (vit::detect_dataset_format(run.data) != vit::DatasetFormat::ImageFolder)
        return read_test_split(run.data, pre, run, count);
    std::error_code ec;
    const fs::path test = fs::path(run.data) / "test";
    return read_folder(fs::is_directory(test, ec) ? test.string() : run.data, pre, run, count);
}

}  // namespace

int evaluate_faithfulness(const vit::Model& model, const FaithfulnessRun& run) {
    const auto start = std::chrono::steady_clock::now();
    size_t total = 0;
    const std::vector<float> images = load_images(model, run, total);
    const size_t N = run.scoring.limit > 0 ? std::min(run.scoring.limit, total) : total;
    info("faithfulness on " + std::to_string(N) + " of " + std::to_string(total) + " images from " + run.data);
    vit::FaithfulnessOptions scoring = run.scoring;
    Progress progress("explain --evaluate", N);
    scoring.progress = [&](size_t done, size_t) { progress.update(done); };
    const vit::FaithfulnessReport report = vit::evaluate_faithfulness(model, images.data(), total, scoring);
    progress.finish();

    // Each figure is a mean over the images, followed by its standard error (± one s.e.).
    char line[256];
    std::ostringstream table, csv;
    std::snprintf(line, sizeof line, "%-34s %20s %20s %13s\n", "map", "deletion AUC", "insertion AUC", "central mass");
    table << line;
    csv << "map,deletion_auc,insertion_auc,central_mass,images,deletion_se,insertion_se\n";
    for (const vit::MapScore& sc : report.maps) {
        std::snprintf(line, sizeof line, "%-34s %11.3f ± %6.4f %11.3f ± %6.4f %13.3f\n", sc.name.c_str(), sc.deletion,
                      sc.deletion_se, sc.insertion, sc.insertion_se, sc.central);
        table << line;
        std::snprintf(line, sizeof line, "%s,%.6f,%.6f,%.6f,%zu,%.6f,%.6f\n", csv_field(sc.name).c_str(), sc.deletion,
                      sc.insertion, sc.central, report.images, sc.deletion_se, sc.insertion_se);
        csv << line;
    }
    std::cout << table.str() << std::flush;
    if (!run.csv.empty()) {
        vit::AtomicFile file(run.csv);
        file.stream() << csv.str();
        file.commit();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char summary[160];
    std::snprintf(summary, sizeof summary, "%zu images, %d patches removed/inserted per step (baseline %s), %.1f s",
                  report.images, report.step, vit::to_string(run.scoring.baseline), seconds);
    info(summary);
    return kExitOk;
}

}  // namespace vit_cli
