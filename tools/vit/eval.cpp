// `vit eval`: accuracy, per-class accuracy and the confusion matrix of a model on a labelled dataset,
// as text on stdout and optionally as CSV.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "chart.hpp"
#include "common.hpp"
#include "image_file.hpp"
#include "model_spec.hpp"
#include "progress.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit eval --model M --data PATH [options]\n\n"
    "Evaluates a model on the test split of PATH (same formats as vit train), or on the train split with\n"
    "--split train. Prints accuracy, per-class accuracy and the confusion matrix (rows: true class,\n"
    "columns: predicted class).\n\n";

void write_csv(std::ostream& out, const vit::EvalResult& r) {
    const size_t K = r.classes.size();
    out << "class,images,correct,accuracy";
    for (size_t j = 0; j < K; ++j) out << ",pred_" << j;
    out << '\n';
    for (size_t k = 0; k < K; ++k) {
        out << csv_field(r.classes[k]) << ',' << r.class_total(k) << ',' << r.confusion[k * K + k] << ','
            << r.class_accuracy(k);
        for (size_t j = 0; j < K; ++j) out << ',' << r.confusion[k * K + j];
        out << '\n';
    }
    out << "total," << r.total << ',' << r.correct << ',' << r.accuracy() << '\n';
}

}  // namespace

int run_eval(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_flag(options);
    // clang-format off
    options.add_options()
        ("data,d", po::value<std::string>(), "dataset (required)")
        ("split", po::value<std::string>()->default_value("test"), "test or train")
        ("val-split", po::value<double>()->default_value(0.0), "as in vit train, for folders without a test split")
        ("seed", po::value<uint64_t>()->default_value(0), "seed of the validation split")
        ("batch,b", po::value<int>()->default_value(256), "batch size")
        ("classes", po::value<std::string>(), "image folders: only these class folders (comma-separated), as vit train --classes")
        ("cache", po::value<std::string>()->default_value("auto"), "image folders: decoded (all images decoded into memory first), none (each decoded when its batch comes) or auto (decoded when they take at most a quarter of the available memory)")
        ("csv", po::value<std::string>(), "also write per-class figures and the confusion matrix to this CSV file")
        ("plot", po::value<std::string>(), "also draw the confusion matrix as a labelled heat map into this PNG file");
    // clang-format on
    add_threads_flag(options);
    add_dtype_flag(options);
    add_max_pixels_flag(options);
    const CommandSpec command{"eval", kUsage, {"model", "data"}};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const std::string split = vm["split"].as<std::string>();
        if (split != "test" && split != "train") throw UsageError("--split must be test or train, got '" + split + "'");
        const int batch = vm["batch"].as<int>();
        if (batch <= 0) throw UsageError("--batch must be positive");
        set_threads(vm["threads"].as<int>());
        const vit::Dtype dtype = dtype_flag(vm);
        vit::LoadOptions lo;
        lo.val_split = vm["val-split"].as<double>();
        lo.seed = vm["seed"].as<uint64_t>();
        lo.warn = [](const std::string& m) { warn(m); };
        lo.image_limits = image_limits(vm);
        check_flags("--val-split", [&] { lo.validate(); });
        check_flags("--cache", [&] { lo.cache = vit::parse_cache(vm["cache"].as<std::string>()); });
        if (vm.count("classes")) lo.classes = split_list(vm["classes"].as<std::string>());

        const vit::Checkpoint ck = load_model_checkpoint(vm["model"].as<std::string>(), "");
        const vit::Model model(ck);
        report_unused(model, ck.source);
        require_classifier(model, ck.source, "eval");
        lo.channels = model.config().in_chans;
        lo.height = model.config().img_h;
        lo.width = model.config().img_w;
        // Image files are brought to the model's size by its own preprocessing, as `vit classify` does.
        vit::PreprocessConfig eval = model.preprocess();
        eval.channels = lo.channels;
        eval.height = lo.height;
        eval.width = lo.width;
        lo.eval_transform = eval;
        Progress decoding("eval (decoding)", 0);
        lo.progress = [&](size_t done, size_t total) { decoding.track(done, total); };
        const vit::DataSplit data = vit::load_dataset(vm["data"].as<std::string>(), lo);
        decoding.finish();
        const vit::Dataset& d = split == "test" ? data.test : data.train;
        if (d.size() == 0) throw vit::ConfigError("the " + split + " split of " + vm["data"].as<std::string>() + " is empty");
        if (d.classes != model.labels())
            warn("the dataset's classes differ from the model's labels; class indices are compared as they are");

        Progress progress("eval", d.size());
        const vit::EvalResult r =
            vit::evaluate(model, d, batch, [&](size_t done, size_t) { progress.update(done); }, dtype);
        progress.finish();
        const size_t K = r.classes.size();
        std::ostream& out = std::cout;
        out << std::fixed << std::setprecision(2);
        out << "accuracy " << 100.0 * r.accuracy() << "% (" << r.correct << "/" << r.total << "), mean loss "
            << std::setprecision(4) << r.loss << std::setprecision(2) << "\n\nper class:\n";
        size_t w = 5;
        for (const auto& c : r.classes) w = std::max(w, c.size());
        for (size_t k = 0; k < K; ++k)
            out << "  " << std::left << std::setw(int(w)) << r.classes[k] << std::right << std::setw(8)
                << 100.0 * r.class_accuracy(k) << "%  (" << r.confusion[k * K + k] << "/" << r.class_total(k) << ")\n";
        out << "\nconfusion matrix (rows: true, columns: predicted):\n";
        for (size_t k = 0; k < K; ++k) {
            out << "  " << std::left << std::setw(int(w)) << r.classes[k] << std::right;
            for (size_t j = 0; j < K; ++j) out << std::setw(6) << r.confusion[k * K + j];
            out << "\n";
        }
        if (vm.count("csv")) {
            vit::AtomicFile f(vm["csv"].as<std::string>());
            write_csv(f.stream(), r);
            f.commit();
        }
        if (vm.count("plot")) {
            char title[160];
            std::snprintf(title, sizeof title, "%s: accuracy %.2f%% on %zu images", split.c_str(), 100.0 * r.accuracy(),
                          r.total);
            write_png(vm["plot"].as<std::string>(), draw_confusion(r.confusion, r.classes, title));
        }
        return kExitOk;
    });
}

}  // namespace vit_cli
