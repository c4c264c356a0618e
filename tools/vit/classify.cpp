// `vit classify`: top-k labels for images and folders of images.
//
// Decoding and preprocessing run on a few worker threads that fill a ring of batch buffers ahead of the
// model, so JPEG decoding overlaps with the forward pass; results still come out in input order.
// Under mpirun each process classifies a contiguous share of the sorted inputs (batch_slice) and rank 0
// writes every row, its own as they come and then the others' in rank order: the single process's order.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common.hpp"
#include "image_batches.hpp"
#include "processes.hpp"
#include "progress.hpp"

namespace vit_cli {
namespace {

// The usage text, naming the extensions that folders are searched for from the library's list.
std::string usage() {
    std::string extensions;
    for (const std::string& e : vit::image_extensions()) extensions += (extensions.empty() ? "" : " ") + e.substr(1);
    return "usage: vit classify --model M [options] INPUT...\n\n"
           "Classifies images. INPUTs are image files or folders; folders are searched recursively for\n" +
           extensions +
           " files (any case), in sorted path order.\n"
           "Unreadable images are skipped with a warning and make the exit status 1.\n\n";
}

std::string format_prob(float p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(p));
    return buf;
}

// One result row: a CSV line without its line break, or a one-line JSON object.
std::string result_row(const std::string& path, const float* probs, int classes, const std::vector<std::string>& labels,
                       bool json, int k) {
    std::vector<int> order(classes);
    std::iota(order.begin(), order.end(), 0);
    // Ties go to the lower class index so the output is deterministic.
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
    if (json) {
        nlohmann::json top = nlohmann::json::array();
        for (int r = 0; r < k; ++r)
            top.push_back({{"label", labels[order[r]]}, {"index", order[r]}, {"prob", probs[order[r]]}});
        const nlohmann::json obj = {{"path", path}, {"top_k", top}};
        return obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    std::string row = csv_field(path);
    for (int r = 0; r < k; ++r) row += ',' + csv_field(labels[order[r]]) + ',' + format_prob(probs[order[r]]);
    return row;
}

// The output's frame: the CSV header, or the JSON array around the rows.
class ResultWriter {
public:
    ResultWriter(std::ostream& out, bool json, int k) : out_(out), json_(json) {
        if (!json_) {
            out_ << "path";
            for (int r = 1; r <= k; ++r) out_ << ",top" << r << "_label,top" << r << "_prob";
            out_ << "\n";
        }
    }

    void add(const std::string& row) {
        if (json_)
            out_ << (rows_ == 0 ? "[\n  " : ",\n  ") << row;
        else
            out_ << row << "\n";
        ++rows_;
    }

    void finish() {
        if (json_) out_ << (rows_ == 0 ? "[]\n" : "\n]\n");
        out_.flush();
    }

private:
    std::ostream& out_;
    bool json_;
    size_t rows_ = 0;
};

// Rows travel from the other processes to rank 0 as one text, each row ended by a NUL (which no path,
// label or number holds).
constexpr char kRowEnd = '\0';

}  // namespace

int run_classify(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_flag(options);
    // clang-format off
    options.add_options()
        ("top-k,k", po::value<int>()->default_value(5), "labels per image")
        ("batch,b", po::value<int>()->default_value(16), "images per forward pass")
        ("workers", po::value<int>()->default_value(default_workers()), "image decoding threads")
        ("img-size", po::value<std::string>(), "run at another input size, N or HxW (resamples pos_embed)")
        ("format,f", po::value<std::string>()->default_value("csv"), "csv or json")
        ("output,o", po::value<std::string>(), "write results to FILE (atomically) instead of stdout");
    // clang-format on
    add_threads_flag(options);
    add_dtype_flag(options);
    add_max_pixels_flag(options);
    const CommandSpec command{"classify", usage(), {"model"}, true};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        if (!vm.count("input")) throw UsageError("no INPUT given (image files or folders)");
        const int top_k = vm["top-k"].as<int>();
        const int batch = vm["batch"].as<int>();
        const int threads = vm["threads"].as<int>();
        const int workers = vm["workers"].as<int>();
        const std::string format = vm["format"].as<std::string>();
        if (top_k < 1) throw UsageError("--top-k must be >= 1, got " + std::to_string(top_k));
        if (batch < 1) throw UsageError("--batch must be >= 1, got " + std::to_string(batch));
        if (workers < 1) throw UsageError("--workers must be >= 1, got " + std::to_string(workers));
        if (format != "csv" && format != "json") throw UsageError("--format must be csv or json, got '" + format + "'");
        const std::string img_size = vm.count("img-size") ? vm["img-size"].as<std::string>() : "";
        if (!img_size.empty()) parse_img_size(img_size);  // report a malformed size before the slow load
        const vit::ImageLimits limits = image_limits(vm);
        set_threads(threads);
        const vit::Dtype dtype = dtype_flag(vm);
        // Images are decoded in parallel by our own workers; OpenCV's internal threads on top of them
        // would only oversubscribe the cores the model needs.
        cv::setNumThreads(0);

        const std::string model_path = vm["model"].as<std::string>();
        // The checkpoint is a temporary: its weights are copied into the model and need not stay.
        const vit::Model model(load_model_checkpoint(model_path, img_size));
        report_unused(model, model_path);
        require_classifier(model, model_path, "classify");
        const int classes = model.config().num_classes;
        const int k = std::min(top_k, classes);
        const std::vector<std::string>& labels = model.labels();
        if (static_cast<int>(labels.size()) != classes)
            throw vit::ConfigError(model_path + ": " + std::to_string(labels.size()) + " labels for " +
                                   std::to_string(classes) + " classes");

        size_t failed = 0;
        const std::vector<std::string> inputs = collect_inputs(vm["input"].as<std::vector<std::string>>(), failed);
        if (inputs.empty()) throw vit::IoError("no images found in the given inputs");
        // This process's share of the inputs (all of them when alone); failures while collecting them
        // are counted once, by rank 0.
        vit::Communicator& comm = processes();
        const bool lead = comm.rank() == 0;
        const vit::BatchSlice share = vit::batch_slice(static_cast<int>(inputs.size()), comm.rank(), comm.size());
        const std::vector<std::string> paths(inputs.begin() + share.first, inputs.begin() + share.first + share.count);
        if (!lead) failed = 0;

        std::unique_ptr<vit::AtomicFile> file;
        if (lead && vm.count("output")) file = std::make_unique<vit::AtomicFile>(vm["output"].as<std::string>());
        const bool json = format == "json";
        std::optional<ResultWriter> writer;  // rank 0's
        if (lead) writer.emplace(file ? file->stream() : std::cout, json, k);
        std::string others_rows;  // the other ranks': their rows for rank 0
        const auto emit = [&](const std::string& row) {
            if (lead)
                writer->add(row);
            else
                others_rows += row + kRowEnd;
        };

        const auto start = std::chrono::steady_clock::now();
        size_t classified = 0;
        double waited = 0;  // seconds the model waited for decoded images (this process)
        if (!paths.empty()) {
            const int runner_batch = static_cast<int>(std::min<size_t>(batch, paths.size()));
            vit::Runner runner(model, runner_batch, vit::RunOptions{}.with_threads(threads).with_dtype(dtype));
            ImageBatches loader(paths, model.preprocess(), runner_batch, workers, limits);
            std::vector<float> probs(static_cast<size_t>(runner_batch) * classes);
            std::vector<size_t> ok;
            Progress progress("classify", paths.size());
            for (int b = 0; b < loader.num_batches(); ++b) {
                float* x = wait_decoded(loader, b, paths, ok, failed);
                const int n = static_cast<int>(ok.size());
                if (n > 0) {
                    const float* logits = runner.forward(x, n);
                    vit::softmax_rows(logits, n, classes, probs.data());
                }
                loader.release(b);
                for (int j = 0; j < n; ++j)
                    emit(result_row(paths[ok[j]], probs.data() + size_t(j) * classes, classes, labels, json, k));
                classified += n;
                progress.update(size_t(b) * size_t(runner_batch) + size_t(loader.batch_count(b)));
            }
            progress.finish();
            waited = loader.wait_seconds();
        }
        if (comm.size() > 1) {
            const std::vector<std::string> texts = comm.gather(others_rows);
            for (size_t r = 1; r < texts.size(); ++r) {
                size_t begin = 0;
                for (size_t end; (end = texts[r].find(kRowEnd, begin)) != std::string::npos; begin = end + 1)
                    writer->add(texts[r].substr(begin, end - begin));
            }
            double counts[2] = {double(classified), double(failed)};
            comm.allreduce_sum(counts, 2);
            classified = static_cast<size_t>(counts[0]);
            failed = static_cast<size_t>(counts[1]);
            ended_together();
            if (!lead) return failed > 0 ? kExitFailure : kExitOk;
        }
        writer->finish();
        if (file) {
            file->commit();
        } else if (!std::cout) {
            throw vit::IoError("cannot write results to standard output");
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        // The wait share says whether decoding keeps the model busy (near 0%) or is the bottleneck.
        char summary[224];
        std::snprintf(summary, sizeof summary,
                      "classified %zu images (%zu failed) in %.2f s, %.1f images/s; the model waited %.2f s (%.0f%%) "
                      "for decoding",
                      classified, failed, seconds, seconds > 0 ? classified / seconds : 0.0, waited,
                      seconds > 0 ? 100.0 * waited / seconds : 0.0);
        info(summary);
        return failed > 0 ? kExitFailure : kExitOk;
    });
}

}  // namespace vit_cli
