// `vit init`: a randomly initialised model saved as a native checkpoint, for tests, benchmarks and as the
// starting point of training.
//
// The configuration file holds timm VisionTransformer keyword arguments, plus optionally
//   "preprocess": {"interpolation": "bicubic"|"bilinear", "resize_mode": "shorter_side_crop"|"squash"|
//                  "border"|"direct",
//                  "crop_pct": 0.9, "mean": [...], "std": [...]}
//   "labels": ["name", ...]
// The preprocessing size and channel count always follow the model (img_size, in_chans).
#include <iostream>
#include <sstream>

#include "common.hpp"
#include "model_spec.hpp"
#include "vit/io/checkpoint.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit init --model-config FILE.json --output OUT.safetensors [options]\n\n"
    "Creates a model with random weights (timm's initialisation) from timm VisionTransformer\n"
    "keyword arguments in FILE.json (optional \"preprocess\" and \"labels\" entries) and saves it.\n\n";

}  // namespace

int run_init(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_config_flag(options);
    // clang-format off
    options.add_options()
        ("output,o", po::value<std::string>(), "checkpoint to write (.safetensors, required)")
        ("seed,s", po::value<uint64_t>()->default_value(0), "random seed")
        ("labels", po::value<std::string>(), "comma-separated class names (default: the file's \"labels\" or class_<i>)");
    // clang-format on
    const CommandSpec command{"init", kUsage, {"model-config", "output"}};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const std::string output = vm["output"].as<std::string>();
        ModelSpec spec = load_model_spec(vm["model-config"].as<std::string>());
        if (vm.count("labels")) {
            spec.labels = split_list(vm["labels"].as<std::string>());
            if (static_cast<int>(spec.labels.size()) != spec.config.num_classes)
                throw UsageError("--labels has " + std::to_string(spec.labels.size()) + " names but " + spec.source +
                                 " has num_classes " + std::to_string(spec.config.num_classes));
        }
        const uint64_t seed = vm["seed"].as<uint64_t>();
        const vit::Model model(spec.config, spec.preprocess, spec.labels, seed);
        vit::Checkpoint ckpt = model.to_checkpoint();
        vit::save_checkpoint(output, ckpt);
        info("wrote " + output + ": " + std::to_string(model.params().size()) + " parameters, seed " +
             std::to_string(seed));
        return kExitOk;
    });
}

}  // namespace vit_cli
