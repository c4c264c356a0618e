// `vit forward`: raw tensor in, logits (and attention maps) out, for parity checks against PyTorch and
// for scripting. Input and output are safetensors files.
#include <iostream>
#include <sstream>

#include "common.hpp"
#include "explain/explain_options.hpp"
#include "model/shape_check.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit forward --model M --input X.safetensors --output OUT.safetensors [options]\n\n"
    "Runs the tensor KEY [N,C,H,W] of X (already normalised) through the model and writes\n"
    "'logits' [N,classes] and, with --attention, 'attn.<i>' [N,heads,T,T] for every block i.\n"
    "--rollout FUSION:RATIO writes 'rollout' [N,patches] (attention rollout, heads fused by mean, max\n"
    "or min, discard ratio in [0,1)); --grad-rollout CLASS:RATIO writes 'grad_rollout' [N,patches]\n"
    "(gradient rollout of logit CLASS for every image).\n\n";

// "A:B" -> {A, B}; a missing ":B" leaves B = "0" (no discard).
std::pair<std::string, std::string> split_spec(const std::string& flag, const std::string& text) {
    const size_t colon = text.find(':');
    if (colon == std::string::npos) return {text, "0"};
    if (text.find(':', colon + 1) != std::string::npos)
        throw UsageError(flag + " expects two values separated by one ':', got '" + text + "'");
    return {text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

int run_forward(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_flag(options);
    // clang-format off
    options.add_options()
        ("input,i", po::value<std::string>(), ".safetensors file holding the input tensor (required)")
        ("key", po::value<std::string>()->default_value("input"), "name of the input tensor in --input")
        ("output,o", po::value<std::string>(), ".safetensors file to write (required)")
        ("attention", po::bool_switch(), "also write every block's attention probabilities as attn.<i>")
        ("rollout", po::value<std::string>(), "FUSION:RATIO: also write 'rollout', e.g. mean:0 or max:0.9")
        ("grad-rollout", po::value<std::string>(), "CLASS:RATIO: also write 'grad_rollout' for class CLASS, e.g. 3:0.9")
        ("batch,b", po::value<int>()->default_value(0), "images per forward pass (0: min(N, 64))")
        ("img-size", po::value<std::string>(), "run at another input size, N or HxW (resamples pos_embed)");
    // clang-format on
    add_threads_flag(options);
    add_dtype_flag(options);
    const CommandSpec command{"forward", kUsage, {"model", "input", "output"}};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const int batch_flag = vm["batch"].as<int>();
        if (batch_flag < 0) throw UsageError("--batch must be >= 0, got " + std::to_string(batch_flag));
        const std::string img_size = vm.count("img-size") ? vm["img-size"].as<std::string>() : "";
        if (!img_size.empty()) parse_img_size(img_size);
        // Flags are checked before the slow loads; the class index needs the model and waits for it.
        vit::RolloutOptions rollout_opts, grad_opts;
        const bool want_rollout = vm.count("rollout") > 0, want_grad = vm.count("grad-rollout") > 0;
        std::string grad_class;
        if (want_rollout) {
            const auto [fusion, ratio] = split_spec("--rollout", vm["rollout"].as<std::string>());
            rollout_opts.fusion = parse_fusion_flag("--rollout", fusion);
            rollout_opts.discard_ratio = parse_discard_ratio("--rollout", ratio);
        }
        if (want_grad) {
            const auto spec = split_spec("--grad-rollout", vm["grad-rollout"].as<std::string>());
            grad_class = spec.first;
            grad_opts.discard_ratio = parse_discard_ratio("--grad-rollout", spec.second);
        }
        set_threads(vm["threads"].as<int>());
        const vit::Dtype dtype = dtype_flag(vm);
        if (want_grad && dtype != vit::Dtype::F32) throw UsageError("--grad-rollout runs in f32 only (--dtype f32)");

        const std::string model_path = vm["model"].as<std::string>();
        const std::string input_path = vm["input"].as<std::string>();
        const std::string key = vm["key"].as<std::string>();
        const std::string output_path = vm["output"].as<std::string>();
        const bool want_attention = vm["attention"].as<bool>();

        const vit::Model model(load_model_checkpoint(model_path, img_size));
        report_unused(model, model_path);
        const int target = want_grad ? parse_class_flag("--grad-rollout", grad_class, model.config().num_classes) : 0;

        vit::SafeTensors in = vit::read_safetensors(input_path);
        auto found = in.tensors.find(key);
        if (found == in.tensors.end()) {
            std::string names;
            size_t listed = 0;
            for (const auto& [name, t] : in.tensors) {
                if (listed++ == 10) {
                    names += ", ... (" + std::to_string(in.tensors.size()) + " in all)";
                    break;
                }
                names += (names.empty() ? "" : ", ") + name;
            }
            throw vit::ShapeError(input_path + " has no tensor '" + key + "' (it holds: " +
                                  (names.empty() ? "nothing" : names) + "); choose one with --key");
        }
        const vit::Tensor& x = found->second;
        vit::check_input_shape(x, model.config(), "input '" + key + "' in " + input_path);
        const int n = static_cast<int>(x.shape[0]);
        const int batch = batch_flag > 0 ? std::min(batch_flag, n) : std::min(n, 64);

        std::vector<vit::Tensor> attention;
        vit::TensorMap out;
        if (want_rollout || want_grad) {
            vit::AttentionCapture cap =
                vit::capture_attention(model, x, want_grad ? std::vector<int>(size_t(n), target) : std::vector<int>{},
                                       batch, want_grad, dtype);
            const vit::PrefixTokens prefix = vit::prefix_tokens(model.config());
            if (want_rollout) out["rollout"] = vit::attention_rollout(cap.attn, prefix, rollout_opts);
            if (want_grad) out["grad_rollout"] = vit::gradient_rollout(cap.attn, cap.grad, prefix, grad_opts);
            out["logits"] = std::move(cap.logits);
            if (want_attention) attention = std::move(cap.attn);
        } else {
            out["logits"] = vit::run_forward(model, x, batch, want_attention ? &attention : nullptr, dtype);
        }
        for (size_t i = 0; i < attention.size(); ++i) out["attn." + std::to_string(i)] = std::move(attention[i]);

        vit::Metadata meta{{"vit.model", model_path}, {"vit.input", input_path + ":" + key}};
        vit::write_safetensors(output_path, out, meta);
        info("wrote " + output_path + ": logits " + vit::shape_str(out["logits"].shape) +
             (want_attention ? ", " + std::to_string(attention.size()) + " attention maps" : "") +
             (want_rollout ? ", rollout" : "") + (want_grad ? ", grad_rollout" : ""));
        return kExitOk;
    });
}

}  // namespace vit_cli
