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
#include <opencv2/imgproc.hpp>

#include "common.hpp"
#include "explain_evaluate.hpp"
#include "explain_gallery.hpp"
#include "explain_options.hpp"
#include "explain_render.hpp"
#include "image_batches.hpp"
#include "progress.hpp"
#include "image/cv_image.hpp"

namespace fs = std::filesystem;

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit explain --model M --output DIR [options] INPUT...\n"
    "       vit explain --model M --evaluate --data PATH [--methods LIST] [--baseline B] [--limit N] [--csv FILE]\n\n"
    "Writes, for every image (folders searched recursively, their tree mirrored under DIR), a PNG panel:\n"
    "the image as the model saw it, the heat map over it, the map alone and the predicted label.\n"
    "--method rollout: attention rollout (Abnar & Zuidema 2020), heads fused by --head-fusion, the\n"
    "--discard-ratio lowest attentions dropped per block. grad-rollout: attention weighted by its\n"
    "positive gradient for --class (default: the predicted class). chefer2021: Chefer et al.'s ICCV 2021\n"
    "relevance rule. chefer2021-lrp: Chefer et al.'s CVPR 2021 method (LRP relevance of each attention\n"
    "map times its gradient, rolled out). attnlrp: AttnLRP (Achtibat et al. 2024), relevance per patch.\n"
    "last-attention: the last block's class-token attention (as DINO shows it).\n"
    "occlusion: the fall of the class's probability when each patch in turn becomes --baseline.\n"
    "grad-rollout-x-occlusion: the product of those two, each scaled to [0, 1]. rise: Petsiuk et al.'s\n"
    "randomised input sampling, --samples masks blending the image with --baseline.\n"
    "--evaluate: deletion/insertion AUC (mean ± standard error) and central mass of the --methods maps\n"
    "on PATH (a dataset as vit train reads it, its test split, or a folder of images).\n\n";

// Where the heat map is drawn: over the original photo at its own resolution, over the model's input
// in the three-cell panel, or (Auto) the first for images larger than the model's input.
enum class OverlayOn { Auto, Original, Input };

struct Settings {
    OverlayOn overlay_on = OverlayOn::Auto;
    vit::SaliencySpec spec;                      // the method and its rollout options
    vit::Baseline baseline = vit::Baseline::Zero;  // occlusion: what an occluded patch becomes
    int target = -1;  // class for the methods that explain one; -1: the predicted class
    bool per_layer = false, save_mask = false, html = false;
    PanelStyle style;
    vit::Dtype dtype = vit::Dtype::F32;  // the forward's number format (methods without gradients only)
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

// The panel's second line: the method and the options that shaped the map.
std::string method_subtitle(const Settings& s) {
    const vit::RolloutOptions& r = s.spec.rollout;
    switch (s.spec.method) {
        case vit::SaliencyMethod::Rollout:
            return std::string("attention rollout, ") + vit::to_string(r.fusion) + " of heads, discard " +
                   ratio_text(r.discard_ratio);
        case vit::SaliencyMethod::GradRollout: return "gradient rollout, discard " + ratio_text(r.discard_ratio);
        case vit::SaliencyMethod::Chefer2021: return "relevance (Chefer et al. 2021)";
        case vit::SaliencyMethod::Chefer2021Lrp: return "LRP relevance x gradient, rolled out (Chefer et al. 2021)";
        case vit::SaliencyMethod::AttnLrp: return "AttnLRP relevance (Achtibat et al. 2024)";
        case vit::SaliencyMethod::LastAttention:
            return s.spec.head < 0 ? "last block's class-token attention, mean of heads"
                                   : "last block's class-token attention, head " + std::to_string(s.spec.head);
        case vit::SaliencyMethod::Occlusion: return std::string("occlusion, patches set to ") + vit::to_string(s.baseline);
        case vit::SaliencyMethod::GradRolloutOcclusion:
            return "gradient rollout (discard " + ratio_text(r.discard_ratio) + ") x occlusion (" +
                   vit::to_string(s.baseline) + ")";
        case vit::SaliencyMethod::Rise:
            return "RISE, " + std::to_string(s.spec.rise.samples) + " masks over " + vit::to_string(s.baseline);
    }
    return "";
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
    GalleryEntry entry;     // for --html
};

void write_job(const Job& job, int gh, int gw, const Settings& s, const vit::PreprocessConfig& pre) {
    std::error_code ec;
    fs::create_directories(job.panel.parent_path(), ec);
    if (ec) throw vit::IoError("cannot create folder " + job.panel.parent_path().string() + ": " + ec.message());
    cv::Mat original;
    if (s.overlay_on != OverlayOn::Input) {
        cv::cvtColor(vit::load_image(job.path, 3, s.image_limits), original, cv::COLOR_RGB2BGR);
        if (s.overlay_on == OverlayOn::Auto && original.cols <= pre.width && original.rows <= pre.height)
            original.release();
    }
    if (!original.empty()) {
        write_png(job.panel.string(), render_on_original(original, job.map.data(), gh, gw, pre, s.style, job.text));
    } else {
        std::vector<const float*> layers;
        for (const auto& l : job.layers) layers.push_back(l.data());
        write_png(job.panel.string(), render_panel(job.view, job.map.data(), gh, gw, layers, s.style, job.text));
    }
    if (s.save_mask) {
        fs::path base = job.panel;
        base.replace_extension();
        write_mask_png16(base.string() + ".mask.png", job.map.data(), gh, gw);
        write_npy(base.string() + ".mask.npy", job.map.data(), gh, gw);
    }
}

// The images explained into out_dir; model_name titles the --html gallery.
struct ImagesRun {
    std::vector<std::string> paths;
    std::vector<fs::path> outputs;  // one panel per path
    fs::path out_dir;
    std::string model_name;
    int batch = 16, workers = 2;
};

int explain_images(const vit::Model& model, const ImagesRun& run, size_t failed, const Settings& s) {
    const std::vector<std::string>& paths = run.paths;
    const std::vector<fs::path>& outputs = run.outputs;
    const fs::path& out_dir = run.out_dir;
    const std::string& model_name = run.model_name;
    const int batch = run.batch, workers = run.workers;
    const vit::ViTConfig& c = model.config();
    const int K = c.num_classes, gh = c.grid_h(), gw = c.grid_w(), P = c.num_patches();
    const vit::PrefixTokens prefix = vit::prefix_tokens(c);
    const auto& labels = model.labels();
    const auto start = std::chrono::steady_clock::now();
    double render_seconds = 0;

    const int B = static_cast<int>(std::min<size_t>(size_t(batch), paths.size()));
    // Methods that explain a class need the predictions first (a forward pass of their own); the
    // class-free ones (rollout, last-block attention) take the logits of their attention capture.
    const bool by_class = vit::needs_class(s.spec.method);
    std::unique_ptr<vit::Runner> runner;
    if (by_class) runner = std::make_unique<vit::Runner>(model, B, vit::RunOptions{}.with_dtype(s.dtype));
    vit::SaliencyMaps saliency(model, B, {s.spec}, s.baseline, s.dtype);
    ImageBatches loader(paths, model.preprocess(), B, workers, s.image_limits);
    const size_t floats = loader.image_floats();
    std::vector<float> probs(size_t(B) * K);
    std::vector<size_t> ok;
    size_t explained = 0;
    const std::string subtitle = method_subtitle(s);
    std::vector<GalleryEntry> gallery;

    Progress progress("explain", paths.size());
    for (int b = 0; b < loader.num_batches(); ++b) {
        progress.update(size_t(b) * size_t(B));  // the images of the batches before this one
        float* x = wait_decoded(loader, b, paths, ok, failed);
        const int n = static_cast<int>(ok.size());
        if (n == 0) {
            loader.release(b);
            continue;
        }
        std::vector<int> pred(static_cast<size_t>(n)), target(static_cast<size_t>(n));
        auto predict = [&](const float* logits) {
            if (K == 0) return;
            vit::softmax_rows(logits, n, K, probs.data());
            for (int i = 0; i < n; ++i) {
                pred[size_t(i)] = vit::argmax(&probs[size_t(i) * K], K);
                target[size_t(i)] = s.target >= 0 ? s.target : pred[size_t(i)];
            }
        };
        if (by_class) predict(runner->forward(x, n));
        const vit::Tensor maps = saliency.compute(x, n, by_class ? target : std::vector<int>())[0];
        if (!by_class) predict(saliency.capture().logits.ptr());

        // With --per-layer, the cumulative maps after blocks 1..depth, from the same capture.
        const std::vector<vit::Tensor> layer_maps =
            s.per_layer ? vit::per_block_maps(saliency.capture(), s.spec, prefix) : std::vector<vit::Tensor>();

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
            job.entry.panel = job.panel.lexically_relative(out_dir).generic_string();
            job.entry.input = job.path;
            if (K > 0) {
                job.entry.label = labels[size_t(p)];
                job.entry.probability = probs[size_t(i) * K + p];
                // A labelled folder: the image sits in a folder named after one of the model's classes.
                const std::string folder = fs::path(job.path).parent_path().filename().string();
                if (std::find(labels.begin(), labels.end(), folder) != labels.end()) job.entry.truth = folder;
            }
        }
        loader.release(b);
        // Drawing and PNG encoding are independent per image; errors stay with their image.
        std::vector<std::string> write_errors(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < n; ++i) {
            try {
                write_job(jobs[size_t(i)], gh, gw, s, model.preprocess());
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
                if (s.html) gallery.push_back(jobs[size_t(i)].entry);
            } else {
                warn("cannot write the panel of " + jobs[size_t(i)].path + ": " + write_errors[size_t(i)]);
                ++failed;
            }
        }
        render_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - render_start).count();
    }
    progress.finish();
    if (s.html) {
        write_gallery(out_dir.string(), model_name + ": " + subtitle, gallery);
        info("wrote " + (out_dir / "index.html").string());
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
        ("method", po::value<std::string>()->default_value("rollout"), "rollout, grad-rollout, chefer2021, chefer2021-lrp, attnlrp, last-attention, occlusion, grad-rollout-x-occlusion or rise")
        ("samples", po::value<int>()->default_value(500), "rise: random masks per image")
        ("head", po::value<int>()->default_value(-1), "last-attention: this head's map (0-based; -1: the mean of the heads)")
        ("baseline", po::value<std::string>()->default_value("zero"), "what a removed patch becomes (occlusion, --evaluate's curves): zero, mean or blur")
        ("head-fusion", po::value<std::string>()->default_value("mean"), "rollout: mean, max or min over the heads")
        ("discard-ratio", po::value<std::string>(), "share of the lowest fused attentions dropped per block, in [0, 1) (default 0.9 for grad-rollout-x-occlusion, as --evaluate scores it; 0 otherwise)")
        ("class", po::value<std::string>(), "grad-rollout: explain this class index (default: the predicted class)")
        ("colormap", po::value<std::string>()->default_value("jet"), "jet, inferno, viridis, turbo, magma, plasma, hot, bone, ...")
        ("alpha", po::value<float>()->default_value(0.5f), "opacity of the heat map over the image, in [0, 1]")
        ("size", po::value<int>()->default_value(224), "height in pixels of each image in the panel")
        ("overlay-on", po::value<std::string>()->default_value("auto"), "original (the photo at its own size), input (the panel of what the model saw) or auto (original for images larger than the model's input)")
        ("html", po::bool_switch(), "also write index.html: a gallery of the panels, sortable and filterable by class and correctness")
        ("per-layer", po::bool_switch(), "add the cumulative map after each block (panels over the input)")
        ("save-mask", po::bool_switch(), "also write the raw map as NAME.mask.png (16-bit) and NAME.mask.npy (float32)")
        ("batch,b", po::value<int>()->default_value(16), "images per forward pass")
        ("workers", po::value<int>()->default_value(default_workers()), "image decoding threads")
        ("evaluate", po::bool_switch(), "measure faithfulness (deletion/insertion AUC) instead of writing panels")
        ("data", po::value<std::string>(), "--evaluate: dataset or image folder")
        ("limit", po::value<int>()->default_value(0), "--evaluate: at most this many images, spread over the set (0: all)")
        ("csv", po::value<std::string>(), "--evaluate: also write the table as CSV to FILE")
        ("methods", po::value<std::string>()->default_value("default"), "--evaluate: the maps to score: all, default or a list (random,centre,rollout,rollout-max,grad-rollout,chefer2021,chefer2021-lrp,attnlrp,last-attention,occlusion,grad-rollout-x-occlusion,rise)")
        ("seed", po::value<uint64_t>()->default_value(0), "--evaluate: seed of the random baseline map");
    // clang-format on
    add_threads_flag(options);
    add_dtype_flag(options);
    add_max_pixels_flag(options);
    const CommandSpec command{"explain", kUsage, {"model"}, true};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const bool evaluate = vm["evaluate"].as<bool>();
        const int batch = vm["batch"].as<int>(), workers = vm["workers"].as<int>();
        if (batch < 1) throw UsageError("--batch must be >= 1, got " + std::to_string(batch));
        if (workers < 1) throw UsageError("--workers must be >= 1, got " + std::to_string(workers));

        Settings s;
        s.spec.method = parse_method_flag("--method", vm["method"].as<std::string>());
        s.spec.rollout.fusion = parse_fusion_flag("--head-fusion", vm["head-fusion"].as<std::string>());
        s.spec.rollout.discard_ratio =
            vm.count("discard-ratio") ? parse_discard_ratio("--discard-ratio", vm["discard-ratio"].as<std::string>())
            : s.spec.method == vit::SaliencyMethod::GradRolloutOcclusion ? 0.9f
                                                                          : 0.0f;
        s.baseline = parse_baseline_flag("--baseline", vm["baseline"].as<std::string>());
        s.spec.rise.samples = vm["samples"].as<int>();
        s.spec.head = vm["head"].as<int>();
        if (s.spec.head != -1 && s.spec.method != vit::SaliencyMethod::LastAttention)
            throw UsageError("--head applies to --method last-attention");
        if (s.spec.rise.samples < 1 || s.spec.rise.samples > 100000)
            throw UsageError("--samples must be in [1, 100000], got " + std::to_string(s.spec.rise.samples));
        if (vm.count("class") && !vit::needs_class(s.spec.method))
            throw UsageError("--class needs a method that explains a class (" + vm["method"].as<std::string>() +
                             " does not depend on one)");
        s.style.colormap = parse_colormap(vm["colormap"].as<std::string>());
        s.style.alpha = vm["alpha"].as<float>();
        if (!(s.style.alpha >= 0.0f && s.style.alpha <= 1.0f))
            throw UsageError("--alpha must be in [0, 1], got " + std::to_string(s.style.alpha));
        s.style.size = vm["size"].as<int>();
        if (s.style.size < 16 || s.style.size > 4096)
            throw UsageError("--size must be in [16, 4096], got " + std::to_string(s.style.size));
        s.per_layer = vm["per-layer"].as<bool>();
        const std::string on = vm["overlay-on"].as<std::string>();
        if (on == "auto") s.overlay_on = s.per_layer ? OverlayOn::Input : OverlayOn::Auto;
        else if (on == "original") s.overlay_on = OverlayOn::Original;
        else if (on == "input") s.overlay_on = OverlayOn::Input;
        else throw UsageError("--overlay-on must be auto, original or input, got '" + on + "'");
        if (s.per_layer && s.overlay_on == OverlayOn::Original)
            throw UsageError("--per-layer draws its maps over the model's input: use --overlay-on input");
        if (s.per_layer && !vit::builds_per_block(s.spec.method))
            throw UsageError("--per-layer applies to rollout, grad-rollout and chefer2021 (maps built block by block)");
        s.save_mask = vm["save-mask"].as<bool>();
        s.html = vm["html"].as<bool>();
        s.dtype = dtype_flag(vm);
        // Gradients (grad-rollout, chefer2021, the LRP methods, the product, and --evaluate's maps) come from
        // the f32 backward.
        if (s.dtype != vit::Dtype::F32 && (vit::uses_gradients(s.spec.method) || evaluate))
            throw UsageError("--dtype " + std::string(vit::to_string(s.dtype)) +
                             " applies to panels of methods without gradients (rollout, last-attention, occlusion, "
                             "rise); gradients are computed in f32");
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
            fo.scoring.baseline = s.baseline;
            fo.scoring.maps = parse_methods_flag("--methods", vm["methods"].as<std::string>(), s.spec.rise.samples);
            fo.workers = workers;
            fo.image_limits = s.image_limits;
            if (vm.count("csv")) fo.csv = vm["csv"].as<std::string>();
        } else {
            if (!vm.count("output")) throw UsageError("the option '--output' is required but missing");
            if (!vm.count("input")) throw UsageError("no INPUT given (image files or folders)");
            for (const char* only : {"data", "csv"})
                if (vm.count(only)) throw UsageError(std::string("--") + only + " applies to --evaluate only");
            if (!vm["methods"].defaulted()) throw UsageError("--methods applies to --evaluate only (one --method here)");
            prepare_output(vm["output"].as<std::string>());
        }
        set_threads(vm["threads"].as<int>());
        cv::setNumThreads(0);  // our own threads decode and draw; OpenCV's would oversubscribe the cores

        const std::string model_path = vm["model"].as<std::string>();
        const vit::Model model(load_model_checkpoint(model_path, ""));
        report_unused(model, model_path);
        // Attention rollout needs no class: a model without a classifier (DINOv2) gets its maps too.
        if (evaluate || vit::needs_class(s.spec.method))
            require_classifier(model, model_path, "explain --method " + vm["method"].as<std::string>() + " or --evaluate");
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
        return explain_images(model, ImagesRun{paths, outputs, out_dir, model_path, batch, workers}, failed, s);
    });
}

}  // namespace vit_cli
