#include "common.hpp"

#include "processes.hpp"
#include "progress.hpp"
#include "vit/io/checkpoint.hpp"

#include <algorithm>
#include <iostream>
#include <new>
#include <sstream>
#include <thread>

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <opencv2/core.hpp>
#include <opencv2/core/version.hpp>

namespace vit_cli {

int guarded(const std::string& command, const std::string& usage, const std::function<int()>& body) {
    // Built when needed: rank_tag() starts MPI, which may itself fail.
    const auto prefix = [&] { return (command.empty() ? "vit" : "vit " + command) + rank_tag() + ": error: "; };
    try {
        return body();
    } catch (const UsageError& e) {
        std::cerr << prefix() << e.what() << "\n\n" << usage;
        return kExitUsage;
    } catch (const po::error& e) {
        std::cerr << prefix() << e.what() << "\n\n" << usage;
        return kExitUsage;
    } catch (const vit::UnsupportedError& e) {
        // A dtype this CPU cannot run is a choice the user can change: a usage error, without the usage.
        std::cerr << prefix() << e.what() << "\n";
        return kExitUsage;
    } catch (const vit::Error& e) {
        std::cerr << prefix() << e.what() << "\n";
    } catch (const dnnl::error& e) {
        // Every dtype is checked against this CPU before any work (vit::require_dtype): reaching here is a
        // bug, reported with what a bug report needs.
        std::cerr << prefix() << "oneDNN failed (" << e.what() << ") on this CPU ("
                  << vit::cpu_support().isa << "); please report it with the output of `vit info`\n";
    } catch (const cv::Exception& e) {
        // OpenCV's what() spans several lines with source locations; err is the useful part.
        std::cerr << prefix() << "OpenCV: " << e.err << "\n";
    } catch (const std::bad_alloc&) {
        std::cerr << prefix() << "out of memory\n";
    } catch (const std::exception& e) {
        std::cerr << prefix() << e.what() << "\n";
    } catch (...) {
        std::cerr << prefix() << "unknown failure\n";
    }
    return kExitFailure;
}

int run_command(const CommandSpec& spec, const po::options_description& flags, const std::vector<std::string>& args,
                const std::function<int(const po::variables_map&)>& body) {
    po::options_description shown("options");
    shown.add_options()("help,h", "show this help");
    shown.add_options()("quiet,q", po::bool_switch(), "no progress or info lines on stderr (warnings and errors still)");
    for (const auto& option : flags.options()) shown.add(option);
    std::ostringstream usage;
    usage << spec.synopsis << shown;
    po::options_description all;
    all.add(shown);
    po::positional_options_description positional;
    if (spec.inputs) {
        all.add_options()("input", po::value<std::vector<std::string>>());
        positional.add("input", -1);
    }
    return guarded(spec.name, usage.str(), [&]() -> int {
        po::command_line_parser parser(args);
        parser.options(all).positional(positional);
        parser.style(po::command_line_style::unix_style & ~po::command_line_style::allow_guessing);
        po::variables_map vm;
        po::store(parser.run(), vm);
        if (spec.fill_in) {
            // store() skips options that already hold a value from the command line and replaces defaults.
            po::command_line_parser more(spec.fill_in(vm));
            more.options(all).style(po::command_line_style::unix_style & ~po::command_line_style::allow_guessing);
            po::store(more.run(), vm);
        }
        po::notify(vm);
        // Only rank 0 of several processes reports progress.
        set_quiet(vm["quiet"].as<bool>() || processes().rank() != 0);
        if (vm.count("help")) {
            std::cout << usage.str();
            return kExitOk;
        }
        for (const std::string& flag : spec.required)
            if (!vm.count(flag)) throw UsageError("the option '--" + flag + "' is required but missing");
        return body(vm);
    });
}

Versions versions() {
    const dnnl_version_t* d = dnnl_version();
    return {kVersion, std::to_string(d->major) + "." + std::to_string(d->minor) + "." + std::to_string(d->patch),
            CV_VERSION};
}

void check_flags(const std::string& flags, const std::function<void()>& check) {
    try {
        check();
    } catch (const vit::ConfigError& e) {
        throw UsageError(flags + ": " + e.what());
    }
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos && (s.empty() || (s.front() != ' ' && s.back() != ' ')))
        return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

int default_workers() {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<int>(std::clamp(hw / 2, 1u, 4u));
}

void add_model_flag(po::options_description& options) {
    options.add_options()("model,m", po::value<std::string>(),
                          "checkpoint: native .safetensors file, timm or Hugging Face folder, or a Hugging Face Hub id "
                          "(timm/NAME, hf-hub:ORG/NAME, ORG/NAME) already in the local Hugging Face cache (required)");
}

void add_model_config_flag(po::options_description& options) {
    options.add_options()("model-config,c", po::value<std::string>(),
                          "model configuration: a name in models/configs or a JSON file of timm VisionTransformer "
                          "kwargs (optional \"preprocess\" and \"labels\" entries)");
}

void add_threads_flag(po::options_description& options) {
    options.add_options()("threads,t", po::value<int>()->default_value(0), "compute threads (0: all cores)");
}

void add_dtype_flag(po::options_description& options) {
    options.add_options()("dtype", po::value<std::string>()->default_value("f32"),
                          "number format of the matrix products: f32, bf16 (bf16 inputs and weights, f32 "
                          "accumulation, LayerNorm, softmax and residual stream) or int8 (the blocks' Linear "
                          "layers: weights 8-bit per output channel, activations 8-bit per token, int32 "
                          "accumulation; the attention in bf16 where the CPU has bf16 products, else f32; norms and residual "
                          "stream in f32). `vit info` shows which run on this CPU");
}

vit::Dtype dtype_flag(const po::variables_map& vm) {
    vit::Dtype dtype = vit::Dtype::F32;
    check_flags("--dtype", [&] { dtype = vit::parse_dtype(vm["dtype"].as<std::string>()); });
    vit::require_dtype(dtype);  // before any work: refused with the CPU's instruction set and the way out
    return dtype;
}

void add_max_pixels_flag(po::options_description& options) {
    options.add_options()("max-pixels", po::value<int64_t>()->default_value(int64_t(vit::kDefaultMaxImagePixels)),
                          "refuse (skip) images whose header declares more pixels than this, before decoding "
                          "them (PIL warns above 89478485 and refuses above 178956970)");
}

vit::ImageLimits image_limits(const po::variables_map& vm) {
    const int64_t max_pixels = vm["max-pixels"].as<int64_t>();
    if (max_pixels < 1) throw UsageError("--max-pixels must be positive, got " + std::to_string(max_pixels));
    vit::ImageLimits limits;
    limits.max_pixels = static_cast<uint64_t>(max_pixels);
    return limits;
}

void warn(const std::string& message) {
    clear_progress_line();
    std::cerr << "vit" << rank_tag() << ": warning: " << message << "\n";
}
void info(const std::string& message) {
    if (quiet()) return;
    clear_progress_line();
    std::cerr << "vit: " << message << "\n";
}

void set_threads(int threads) {
    if (threads < 0) throw UsageError("--threads must be >= 0, got " + std::to_string(threads));
    if (threads > 0) omp_set_num_threads(threads);
}

std::pair<int, int> parse_img_size(const std::string& text) {
    auto parse_int = [&](const std::string& s) {
        size_t used = 0;
        int v = 0;
        try {
            v = std::stoi(s, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != s.size() || v <= 0)
            throw UsageError("--img-size expects N or HxW with positive integers, got '" + text + "'");
        return v;
    };
    const size_t x = text.find_first_of("xX");
    if (x == std::string::npos) {
        const int n = parse_int(text);
        return {n, n};
    }
    return {parse_int(text.substr(0, x)), parse_int(text.substr(x + 1))};
}

vit::Checkpoint load_model_checkpoint(const std::string& spec, const std::string& img_size) {
    const std::string path = vit::resolve_model_spec(spec);
    vit::Checkpoint ckpt = vit::load_checkpoint(path);
    if (!img_size.empty()) {
        const auto [h, w] = parse_img_size(img_size);
        vit::set_image_size(ckpt, h, w);
    }
    const auto& c = ckpt.config;
    const char* format = ckpt.format == vit::CheckpointFormat::Timm          ? "timm"
                         : ckpt.format == vit::CheckpointFormat::HuggingFace ? "Hugging Face"
                                                                              : "native";
    const std::string where = path == spec ? path : spec + " = " + path;
    info("model " + where + " (" + format + "): " + std::to_string(c.img_h) + "x" + std::to_string(c.img_w) +
         " patch " + std::to_string(c.patch_size) + ", dim " + std::to_string(c.embed_dim) + ", depth " +
         std::to_string(c.depth) + ", " + std::to_string(c.num_classes) + " classes");
    return ckpt;
}

void report_unused(const vit::Model& model, const std::string& source) {
    const auto& unused = model.unused_tensors();
    if (unused.empty()) return;
    std::string names;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) names += (i ? ", " : "") + unused[i];
    if (unused.size() > 5) names += ", ...";
    warn(std::to_string(unused.size()) + " tensor(s) in " + source + " not used by the model: " + names);
}

void require_classifier(const vit::Model& model, const std::string& model_path, const std::string& command) {
    if (model.config().num_classes > 0) return;
    throw vit::ConfigError(model_path + " has no classifier (num_classes 0): its output is a " +
                           std::to_string(model.config().embed_dim) + "-wide feature vector, not classes, so `vit " +
                           command + "` has nothing to label. `vit forward` writes the features; `vit train --init-from " +
                           model_path + "` fine-tunes a classifier on your data.");
}

}  // namespace vit_cli
