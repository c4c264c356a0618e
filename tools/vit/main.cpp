// `vit`: command-line front end of the library. Dispatches to one subcommand per file in tools/vit/.
#include <iostream>
#include <string>
#include <vector>

#include "common.hpp"
#include "processes.hpp"

namespace {

using vit_cli::Command;

const Command kCommands[] = {
    {"classify", "classify images or folders of images, top-k labels as CSV or JSON", vit_cli::run_classify},
    {"forward", "run a tensor [N,C,H,W] from a .safetensors file through a model, save logits/attention",
     vit_cli::run_forward},
    {"explain", "attention-rollout heat maps over images as PNG panels, and their faithfulness",
     vit_cli::run_explain},
    {"init", "create a randomly initialised model from a JSON configuration", vit_cli::run_init},
    {"train", "train a model on an image folder, CIFAR or (Fashion-)MNIST", vit_cli::run_train},
    {"eval", "accuracy, per-class accuracy and confusion matrix on a labelled dataset", vit_cli::run_eval},
    {"train-step", "one optimizer step on a batch from a .safetensors file; writes loss, gradients, parameters",
     vit_cli::run_train_step},
    {"export", "write a model as a timm (Hub layout) or Hugging Face ViT folder", vit_cli::run_export},
    {"bench", "images/s of inference or training steps, as one JSON line (compare with the PyTorch anchor)",
     vit_cli::run_bench},
    {"info", "the CPU, its instruction set and which --dtype runs on it, threads and versions (for bug reports)",
     vit_cli::run_info},
};

std::string usage() {
    std::string s =
        "usage: vit <command> [options]\n"
        "       vit <command> --help\n"
        "       vit --help | --version\n\n"
        "Vision Transformers on oneDNN: inference, training and attention maps.\n\ncommands:\n";
    for (const auto& c : kCommands) {
        std::string name = c.name;
        name.resize(12, ' ');
        s += "  " + name + c.summary + "\n";
    }
    s += "\nexit status: 0 success, 1 runtime failure (or some inputs failed), 2 usage error\n";
    return s;
}

std::string version() {
    const vit_cli::Versions v = vit_cli::versions();
    return "vit " + v.vit + " (oneDNN " + v.onednn + ", OpenCV " + v.opencv + ")\n";
}

}  // namespace

int main(int argc, char** argv) {
    // Everything, including the dispatch itself, runs inside the guard: no exception may escape main.
    const int status = vit_cli::guarded("", usage(), [&]() -> int {
        vit_cli::processes();  // MPI starts before anything else when mpirun started the program
        std::vector<std::string> args(argv + 1, argv + argc);
        if (args.empty()) throw vit_cli::UsageError("no command given");
        const std::string& first = args[0];
        if (first == "--help" || first == "-h" || first == "help") {
            std::cout << usage();
            return vit_cli::kExitOk;
        }
        if (first == "--version" || first == "-V") {
            std::cout << version();
            return vit_cli::kExitOk;
        }
        for (const auto& c : kCommands)
            if (first == c.name) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
        if (!first.empty() && first[0] == '-') throw vit_cli::UsageError("unrecognised option '" + first + "'");
        throw vit_cli::UsageError("unknown command '" + first + "'");
    });
    return vit_cli::finish(status);
}
