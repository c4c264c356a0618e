// `vit bench`: images/s of inference or of full training steps for a model configuration, printed as
// one JSON line in the form of the PyTorch anchor's bench_infer.py / bench_train.py, so the two can be
// run side by side on the same machine. Inputs are random; weights are timm's initialisation.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "progress.hpp"
#include "model_spec.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit bench --model-config NAME|FILE [--batch B] [--threads T] [--reps N] [--dtype D] [--train]\n\n"
    "Times the median of N forward passes (or, with --train, full training steps: forward,\n"
    "cross-entropy, backward, AdamW) after one warm-up, and prints one JSON line. cpu_ms_per_batch\n"
    "is the median process CPU time of a pass (all threads): on a machine shared with other work\n"
    "it moves less than the wall time.\n\n";

}  // namespace

int run_bench(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_config_flag(options);
    // clang-format off
    options.add_options()
        ("batch,b", po::value<int>()->default_value(1), "batch size")
        ("reps,r", po::value<int>()->default_value(10), "timed repetitions")
        ("train", po::bool_switch(), "time training steps instead of inference");
    // clang-format on
    add_threads_flag(options);
    add_dtype_flag(options);
    const CommandSpec command{"bench", kUsage, {"model-config"}};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const int batch = vm["batch"].as<int>(), reps = vm["reps"].as<int>(), threads = vm["threads"].as<int>();
        if (batch <= 0 || reps <= 0) throw UsageError("--batch and --reps must be positive");
        set_threads(threads);
        const vit::Dtype dtype = dtype_flag(vm);
        const std::string name = vm["model-config"].as<std::string>();
        const ModelSpec spec = load_model_spec(name);
        vit::Model model(spec.config, spec.preprocess, spec.labels, 0);
        const vit::ViTConfig& c = model.config();
        // The network first: it refuses a batch that cannot fit in memory before the input is allocated.
        std::unique_ptr<vit::Runner> runner;
        std::unique_ptr<vit::Trainer> trainer;
        const bool train = vm["train"].as<bool>();
        if (train) {
            vit::OptimConfig oc;
            oc.label_smoothing = 0.1f;
            oc.dtype = dtype;
            trainer = std::make_unique<vit::Trainer>(model, batch, oc);
        } else {
            runner = std::make_unique<vit::Runner>(model, batch, vit::RunOptions{}.with_dtype(dtype));
        }
        std::vector<float> x(size_t(batch) * c.in_chans * c.img_h * c.img_w);
        std::mt19937 rng(0);
        std::normal_distribution<float> nd;
        for (float& v : x) v = nd(rng);
        std::vector<int> y(static_cast<size_t>(batch), 0);
        for (int i = 0; i < batch; ++i) y[size_t(i)] = i % c.num_classes;

        std::function<void()> step;
        if (train) {
            step = [&] { trainer->step(x.data(), y.data(), batch, 1e-3f); };
        } else {
            step = [&] { runner->forward(x.data(), batch); };
        }
        step();  // warm-up: first-touch of buffers, kernel JIT
        std::vector<double> times, cpu_times;
        Progress progress("bench", size_t(reps), "batches");
        for (int r = 0; r < reps; ++r) {
            progress.update(size_t(r));
            const auto t0 = std::chrono::steady_clock::now();
            const std::clock_t c0 = std::clock();
            step();
            cpu_times.push_back(double(std::clock() - c0) / CLOCKS_PER_SEC);
            times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        progress.finish();
        const auto median = [reps](std::vector<double>& v) {
            std::nth_element(v.begin(), v.begin() + reps / 2, v.end());
            return v[size_t(reps / 2)];
        };
        const double dt = median(times), cpu = median(cpu_times);
        nlohmann::json out{{"config", name},
                           {"batch", batch},
                           {"threads", threads},
                           {"mode", train ? "train" : "infer"},
                           {"dtype", vit::to_string(dtype)},
                           {train ? "ms_per_step" : "ms_per_batch", std::round(dt * 1e5) / 100},
                           {"img_per_s", std::round(batch / dt * 100) / 100},
                           {"cpu_ms_per_batch", std::round(cpu * 1e5) / 100}};
        std::cout << out.dump() << std::endl;
        return kExitOk;
    });
}

}  // namespace vit_cli
