// `vit train-step`: one optimizer step on a batch stored in a .safetensors file, writing the loss, every
// gradient and every updated parameter under PyTorch's names, so a run can be compared with PyTorch.
// Under mpirun the processes split the batch (batch_slice) and average their gradients: the output is
// the single process's, up to the order of float sums; rank 0 writes it.
#include <cmath>
#include <iostream>
#include <sstream>

#include "common.hpp"
#include "processes.hpp"
#include "model/shape_check.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit train-step --model M --batch B.safetensors --output OUT.safetensors [options]\n\n"
    "Runs forward, cross-entropy, backward and one AdamW step on the tensors x [N,C,H,W] and y [N]\n"
    "(class indices, stored as numbers) of B.safetensors, and writes loss [1], grad.<param> and\n"
    "after.<param> for every parameter.\n\n";

}  // namespace

int run_train_step(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_flag(options);
    // clang-format off
    options.add_options()
        ("batch", po::value<std::string>(), ".safetensors with x and y (required)")
        ("output,o", po::value<std::string>(), "output .safetensors (required)")
        ("lr", po::value<float>()->default_value(1e-3f), "learning rate")
        ("weight-decay", po::value<float>()->default_value(0.05f), "AdamW weight decay (every parameter)")
        ("label-smoothing", po::value<float>()->default_value(0.1f), "label smoothing");
    // clang-format on
    add_threads_flag(options);
    add_dtype_flag(options);
    const CommandSpec command{"train-step", kUsage, {"model", "batch", "output"}};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        set_threads(vm["threads"].as<int>());
        const vit::Dtype dtype = dtype_flag(vm);  // before loading anything
        const vit::Checkpoint ck = load_model_checkpoint(vm["model"].as<std::string>(), "");
        vit::Model model(ck);
        const vit::ViTConfig& c = model.config();
        const std::string batch_path = vm["batch"].as<std::string>();
        const vit::SafeTensors st = vit::read_safetensors(batch_path);
        for (const char* key : {"x", "y"})
            if (!st.tensors.count(key)) throw vit::ShapeError(batch_path + ": tensor '" + key + "' is missing");
        const vit::Tensor& x = st.tensors.at("x");
        const vit::Tensor& y = st.tensors.at("y");
        vit::check_input_shape(x, c, batch_path + ": tensor 'x'");
        if (y.shape != vit::Shape{x.shape[0]})
            throw vit::ShapeError(batch_path + ": tensor 'y' has shape " + vit::shape_str(y.shape) + ", expected [" +
                                  std::to_string(x.shape[0]) + "]");
        std::vector<int> labels;
        for (float v : y.data) {
            if (v != std::floor(v) || v < 0 || v >= c.num_classes)
                throw vit::ConfigError(batch_path + ": label " + std::to_string(v) + " is not a class index in [0, " +
                                       std::to_string(c.num_classes) + ")");
            labels.push_back(static_cast<int>(v));
        }
        vit::OptimConfig oc;
        oc.weight_decay = vm["weight-decay"].as<float>();
        oc.label_smoothing = vm["label-smoothing"].as<float>();
        oc.dtype = dtype;
        vit::Communicator& comm = processes();
        if (x.shape[0] < comm.size())
            throw vit::ConfigError(batch_path + ": " + std::to_string(x.shape[0]) + " images cannot be split across " +
                                   std::to_string(comm.size()) + " processes (each needs at least one)");
        const vit::BatchSlice slice = vit::batch_slice(static_cast<int>(x.shape[0]), comm.rank(), comm.size());
        vit::Trainer trainer(model, slice.count, oc, vit::DataParallel{&comm, slice});
        const size_t image = x.data.size() / size_t(x.shape[0]);
        const vit::StepResult r = trainer.step(x.ptr() + size_t(slice.first) * image, labels.data() + slice.first,
                                               slice.count, vm["lr"].as<float>());
        ended_together();
        if (comm.rank() != 0) return kExitOk;

        vit::TensorMap out;
        out.emplace("loss", vit::Tensor({1}, std::vector<float>{r.loss}));
        for (auto& [name, t] : trainer.grads().to_map()) out.emplace("grad." + name, std::move(t));
        for (auto& [name, t] : model.params().to_map()) out.emplace("after." + name, std::move(t));
        vit::write_safetensors(vm["output"].as<std::string>(), out);
        std::cout << "loss " << r.loss << "\n";
        return kExitOk;
    });
}

}  // namespace vit_cli
