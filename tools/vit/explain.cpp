// `vit explain`: attention-rollout and gradient-rollout heat maps over images, as PNG panels (the
// image the model saw, the overlay, the map, the prediction), and their faithfulness (--evaluate).
//
// Images are decoded on worker threads ahead of the model (as in classify); per batch, one forward
// pass gives the predictions and, for rollout, the attention of every block; gradient rollout adds a
// forward and backward pass for the chosen classes. Panels are drawn and encoded in parallel.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <opencv2/core.hpp>

#include "common.hpp"
#include "explain_evaluate.hpp"
#include "explain_options.hpp"
#include "explain_render.hpp"
#include "image_batches.hpp"

namespace fs = std::filesystem;

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit explain --model M --output DIR [options] INPUT...\n"
    "       vit explain --model M --evaluate --data PATH [--limit N] [--csv FILE]\n\n"
    "Writes, for every image (folders searched recursively, their tree mirrored under DIR), a PNG panel:\n"
    "the image as the model saw it, the heat map over it, the map alone and the predicted label.\n"
    "--method rollout: attention rollout (Abnar & Zuidema 2020), heads fused by --head-fusion, the\n"
    "--discard-ratio lowest attentions dropped per block. --method grad-rollout: attention weighted by\n"
    "its positive gradient for --class (default: the predicted class).\n"
    "--evaluate: deletion/insertion AUC and central mass of several maps on PATH (a dataset as vit\n"
    "train reads it, its test split, or a folder of images).\n\n";

enum class Method { Rollout, GradRollout };

struct Settings {
    Method method = Method::Rollout;
    vit::RolloutOptions rollout;
    int target = -1;  // class for gradient rollout; -1: the predicted class
    bool per_layer = false, save_mask = false;
    PanelStyle style;
    vit::ImageLimits image_limits;
};

std::string percent(float p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * p);
    return buf;
}

std::string ratio_text(float r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", double(r));
    return buf;
}

// The output folder is created (with its parents) before any work, so an unwritable place fails at
// once rather than after the model has run.
void prepare_output(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw vit::IoError("cannot create output folder " + dir.string() + ": " +
                           (ec ? ec.message() : "a file of that name exists"));
}

// One image's maps and panel, written under its mirrored name.
struct Job {
    std::string path;       // the input, for messages
    fs::path panel;         // DIR/<relative path>.png
    cv::Mat view;           // what the model saw
    std::vector<float> map; // (gh * gw)
    std::vector<std::vector<float>> layers;
    PanelText text;
};

void write_job(const Job& job, int gh, int gw, const Settings& s) {
    std::error_code ec;
    fs::create_directories(job.panel.parent_path(), ec);
    if (ec) throw vit::IoError("cannot create folder " + job.panel.parent_path().string() + ": " + ec.message());
    std::vector<const float*> layers;
    for (const auto& l : job.layers) layers.push_back(l.data());
    write_png(job.panel.string(), render_panel(job.view, job.map.data(), gh, gw, layers, s.style, job.text));
    if (s.save_mask) {
        fs::path base = job.panel;
        base.replace_extension();
        write_mask_png16(base.string() + ".mask.png", job.map.data(), gh, gw);
        write_npy(base.string() + ".mask.npy", job.map.data(), gh, gw);
    }
}

// Attention of the first n images of the runner's batch, per block (n, heads, T, T).
std::vector<vit::Tensor> runner_attention(const vit::Runner& runner, const vit::ViTConfig& c, int n) {
    const int64_t T = c.num_tokens(), H = c.num_heads;
    std::vector<vit::Tensor> attn;
    for (int b = 0; b < c.depth; ++b) {
        const float* a = runner.attention(b);
        attn.emplace_back(vit::Shape{n, H, T, T}, std::vector<float>(a, a + n * H * T * T));
    }
    return attn;
}

int explain_images(const vit::Model& model, const std::vector<std::string>& paths,
                   const std::vector<fs::path>& outputs, size_t failed, const Settings& s, int batch, int workers) {
    const vit::ViTConfig& c = model.config();
    const int K = c.num_classes, gh = c.grid_h(), gw = c.grid_w(), P = c.num_patches();
    const vit::PrefixTokens prefix = vit::prefix_tokens(c);
    const auto& labels = model.labels();
    const auto start = std::chrono::steady_clock::now();
    double render_seconds = 0;

    const int B = static_cast<int>(std::min<size_t>(size_t(batch), paths.size()));
    // Rollout reads the attention the forward pass kept; gradient rollout gets it with the gradients.
    vit::Runner runner(model, B, vit::RunOptions{s.method == Method::Rollout, 0});
    ImageBatches loader(paths, model.preprocess(), B, workers, s.image_limits);
    const size_t floats = loader.image_floats();
    std::vector<float> probs(size_t(B) * K);
    std::vector<size_t> ok;
    size_t explained = 0;
    std::string subtitle = s.method == Method::Rollout
                               ? std::string("attention rollout, ") + vit::to_string(s.rollout.fusion) +
                                     " of heads, discard " + ratio_text(s.rollout.discard_ratio)
                               : "gradient rollout, discard " + ratio_text(s.rollout.discard_ratio);

    for (int b = 0; b < loader.num_batches(); ++b) {
        float* x = loader.wait_decoded(b, ok, failed);
        const int n = static_cast<int>(ok.size());
        if (n == 0) {
            loader.release(b);
            continue;
        }
        const float* out = runner.forward(x, n);
        if (K > 0) vit::softmax_rows(out, n, K, probs.data());
        std::vector<int> pred(static_cast<size_t>(n)), target(static_cast<size_t>(n));
        for (int i = 0; i < n && K > 0; ++i) {
            pred[size_t(i)] = vit::argmax(&probs[size_t(i) * K], K);
            target[size_t(i)] = s.target >= 0 ? s.target : pred[size_t(i)];
        }

        // Maps: the final one, and with --per-layer the cumulative ones after blocks 1..depth.
        std::vector<vit::Tensor> attn, grad;
        if (s.method == Method::Rollout) {
            attn = runner_attention(runner, c, n);
        } else {
            vit::AttentionCapture cap = vit::capture_attention(
                model, vit::Tensor({n, c.in_chans, c.img_h, c.img_w}, std::vector<float>(x, x + size_t(n) * floats)),
                target, n, true);
            attn = std::move(cap.attn);
            grad = std::move(cap.grad);
        }
        auto rollout_to = [&](int last) {
            vit::RolloutOptions o = s.rollout;
            o.last_block = last;
            return s.method == Method::Rollout ? vit::attention_rollout(attn, prefix, o)
                                               : vit::gradient_rollout(attn, grad, prefix, o);
        };
        const vit::Tensor maps = rollout_to(-1);
        std::vector<vit::Tensor> layer_maps;
        if (s.per_layer)
            for (int l = 0; l < c.depth; ++l) layer_maps.push_back(rollout_to(l));

        const auto render_start = std::chrono::steady_clock::now();
        std::vector<Job> jobs(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            Job& job = jobs[size_t(i)];
            job.path = paths[ok[size_t(i)]];
            job.panel = outputs[ok[size_t(i)]];
            job.view = model_view(x + size_t(i) * floats, model.preprocess());
            job.map.assign(maps.ptr() + size_t(i) * P, maps.ptr() + size_t(i + 1) * P);
            for (const auto& l : layer_maps) job.layers.emplace_back(l.ptr() + size_t(i) * P, l.ptr() + size_t(i + 1) * P);
            const int p = pred[size_t(i)], t = target[size_t(i)];
            if (K == 0) {
                job.text.title = "no classifier: the attention of the features";
            } else {
                job.text.title = "pred: " + labels[size_t(p)] + " " + percent(probs[size_t(i) * K + p]);
                if (t != p)
                    job.text.title += " | map for: " + labels[size_t(t)] + " " + percent(probs[size_t(i) * K + t]);
            }
            job.text.subtitle = subtitle;
        }
        loader.release(b);
        // Drawing and PNG encoding are independent per image; errors stay with their image.
        std::vector<std::string> write_errors(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < n; ++i) {
            try {
                write_job(jobs[size_t(i)], gh, gw, s);
            } catch (const vit::Error& e) {
                write_errors[size_t(i)] = e.what();
            } catch (const cv::Exception& e) {
                write_errors[size_t(i)] = "OpenCV: " + e.err;
            } catch (const std::exception& e) {
                write_errors[size_t(i)] = e.what();
            }
        }
        for (int i = 0; i < n; ++i) {
            if (write_errors[size_t(i)].empty()) {
                ++explained;
            } else {
                warn("cannot write the panel of " + jobs[size_t(i)].path + ": " + write_errors[size_t(i)]);
                ++failed;
            }
        }
        render_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - render_start).count();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char summary[200];
    std::snprintf(summary, sizeof summary,
                  "explained %zu images (%zu failed) in %.2f s, %.1f images/s (%.2f s drawing and writing panels)",
                  explained, failed, seconds, seconds > 0 ? explained / seconds : 0.0, render_seconds);
    info(summary);
    return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

int run_explain(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_flag(options);
    // clang-format off
    options.add_options()
        ("output,o", po::value<std::string>(), "folder for the panels (created if missing)")
        ("method", po::value<std::string>()->default_value("rollout"), "rollout or grad-rollout")
        ("head-fusion", po::value<std::string>()->default_value("mean"), "rollout: mean, max or min over the heads")
        ("discard-ratio", po::value<std::string>()->default_value("0"), "share of the lowest fused attentions dropped per block, in [0, 1)")
        ("class", po::value<std::string>(), "grad-rollout: explain this class index (default: the predicted class)")
        ("colormap", po::value<std::string>()->default_value("jet"), "jet, inferno, viridis, turbo, magma, plasma, hot, bone, ...")
        ("alpha", po::value<float>()->default_value(0.5f), "opacity of the heat map over the image, in [0, 1]")
        ("size", po::value<int>()->default_value(224), "height in pixels of each image in the panel")
        ("per-layer", po::bool_switch(), "add the cumulative map after each block")
        ("save-mask", po::bool_switch(), "also write the raw map as NAME.mask.png (16-bit) and NAME.mask.npy (float32)")
        ("batch,b", po::value<int>()->default_value(16), "images per forward pass")
        ("workers", po::value<int>()->default_value(default_workers()), "image decoding threads")
        ("evaluate", po::bool_switch(), "measure faithfulness (deletion/insertion AUC) instead of writing panels")
        ("data", po::value<std::string>(), "--evaluate: dataset or image folder")
        ("limit", po::value<int>()->default_value(0), "--evaluate: at most this many images, spread over the set (0: all)")
        ("csv", po::value<std::string>(), "--evaluate: also write the table as CSV to FILE")
        ("seed", po::value<uint64_t>()->default_value(0), "--evaluate: seed of the random baseline map");
    // clang-format on
    add_threads_flag(options);
    add_max_pixels_flag(options);
    const CommandSpec command{"explain", kUsage, {"model"}, true};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const bool evaluate = vm["evaluate"].as<bool>();
        const int batch = vm["batch"].as<int>(), workers = vm["workers"].as<int>();
        if (batch < 1) throw UsageError("--batch must be >= 1, got " + std::to_string(batch));
        if (workers < 1) throw UsageError("--workers must be >= 1, got " + std::to_string(workers));

        Settings s;
        const std::string method = vm["method"].as<std::string>();
        if (method == "rollout") {
            s.method = Method::Rollout;
        } else if (method == "grad-rollout") {
            s.method = Method::GradRollout;
        } else {
            throw UsageError("--method must be rollout or grad-rollout, got '" + method + "'");
        }
        s.rollout.fusion = parse_fusion_flag("--head-fusion", vm["head-fusion"].as<std::string>());
        s.rollout.discard_ratio = parse_discard_ratio("--discard-ratio", vm["discard-ratio"].as<std::string>());
        if (vm.count("class") && s.method != Method::GradRollout)
            throw UsageError("--class needs --method grad-rollout (attention rollout does not depend on a class)");
        s.style.colormap = parse_colormap(vm["colormap"].as<std::string>());
        s.style.alpha = vm["alpha"].as<float>();
        if (!(s.style.alpha >= 0.0f && s.style.alpha <= 1.0f))
            throw UsageError("--alpha must be in [0, 1], got " + std::to_string(s.style.alpha));
        s.style.size = vm["size"].as<int>();
        if (s.style.size < 16 || s.style.size > 4096)
            throw UsageError("--size must be in [16, 4096], got " + std::to_string(s.style.size));
        s.per_layer = vm["per-layer"].as<bool>();
        s.save_mask = vm["save-mask"].as<bool>();
        s.image_limits = image_limits(vm);

        FaithfulnessRun fo;
        if (evaluate) {
            if (!vm.count("data")) throw UsageError("--evaluate needs --data PATH");
            if (vm.count("input")) throw UsageError("--evaluate reads --data, not INPUTs");
            const int limit = vm["limit"].as<int>();
            if (limit < 0) throw UsageError("--limit must be >= 0, got " + std::to_string(limit));
            fo.data = vm["data"].as<std::string>();
            fo.scoring.limit = size_t(limit);
            fo.scoring.batch = batch;
            fo.scoring.seed = vm["seed"].as<uint64_t>();
            fo.workers = workers;
            fo.image_limits = s.image_limits;
            if (vm.count("csv")) fo.csv = vm["csv"].as<std::string>();
        } else {
            if (!vm.count("output")) throw UsageError("the option '--output' is required but missing");
            if (!vm.count("input")) throw UsageError("no INPUT given (image files or folders)");
            for (const char* only : {"data", "csv"})
                if (vm.count(only)) throw UsageError(std::string("--") + only + " applies to --evaluate only");
            prepare_output(vm["output"].as<std::string>());
        }
        set_threads(vm["threads"].as<int>());
        cv::setNumThreads(0);  // our own threads decode and draw; OpenCV's would oversubscribe the cores

        const std::string model_path = vm["model"].as<std::string>();
        const vit::Model model(load_model_checkpoint(model_path, ""));
        report_unused(model, model_path);
        // Attention rollout needs no class: a model without a classifier (DINOv2) gets its maps too.
        if (evaluate || s.method != Method::Rollout || vm.count("class"))
            require_classifier(model, model_path, "explain --method grad-rollout, --class or --evaluate");
        const int classes = model.config().num_classes;
        if (static_cast<int>(model.labels().size()) != classes)
            throw vit::ConfigError(model_path + ": " + std::to_string(model.labels().size()) + " labels for " +
                                   std::to_string(classes) + " classes");
        if (vm.count("class")) s.target = parse_class_flag("--class", vm["class"].as<std::string>(), classes);
        if (evaluate) return evaluate_faithfulness(model, fo);

        size_t failed = 0;
        std::vector<std::string> relative;
        const std::vector<std::string> paths =
            collect_inputs(vm["input"].as<std::vector<std::string>>(), failed, &relative);
        if (paths.empty()) throw vit::IoError("no images found in the given inputs");
        const fs::path out_dir = vm["output"].as<std::string>();
        std::vector<fs::path> outputs;
        std::map<fs::path, std::string> claimed;
        for (size_t i = 0; i < paths.size(); ++i) {
            fs::path out = out_dir / relative[i];
            out.replace_extension(".png");
            const auto [it, fresh] = claimed.emplace(out, paths[i]);
            if (!fresh)
                throw vit::ConfigError("inputs " + it->second + " and " + paths[i] + " would both be written to " +
                                       out.string() + "; explain them into separate --output folders");
            outputs.push_back(out);
        }
        return explain_images(model, paths, outputs, failed, s, batch, workers);
    });
}

}  // namespace vit_cli
