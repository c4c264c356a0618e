// `vit export`: a model written as a folder that timm or Hugging Face transformers loads (export.hpp).
#include "common.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit export --model M --output DIR|FILE.onnx [--format timm|hf|onnx] [options]\n\n"
    "Writes the model as a folder that other libraries load, and that --model reads back:\n"
    "  timm  timm's Hub layout: model.safetensors under timm's names and config.json naming the\n"
    "        closest timm architecture, with model_args that make it exactly this model\n"
    "        (timm.create_model(architecture, **model_args, num_classes=..., global_pool=...)).\n"
    "  hf    Hugging Face ViTForImageClassification: config.json, preprocessor_config.json and\n"
    "        model.safetensors (plain ViTs only: class token, token pooling, GELU, no LayerScale,\n"
    "        registers, distillation token or pre-norm).\n"
    "  onnx  one .onnx file (opset 17) for ONNX Runtime or any ONNX engine: input pixel_values\n"
    "        [batch, C, H, W] (normalised), output logits (features without a classifier), with\n"
    "        --attention also attn.<i>; the preprocessing and labels are in its metadata.\n"
    "DIR must be new, empty, or a folder that an earlier export wrote (its files are replaced).\n\n";

}  // namespace

int run_export(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_flag(options);
    // clang-format off
    options.add_options()
        ("output,o", po::value<std::string>(), "folder to write (required)")
        ("format,f", po::value<std::string>()->default_value("timm"), "timm, hf or onnx")
        ("attention", po::bool_switch(), "onnx: also output every block's attention probabilities")
        ("dtype", po::value<std::string>()->default_value("f32"),
         "onnx: f32, or int8 (the blocks' Linear layers quantised as --dtype int8 runs them: MatMulInteger with "
         "int8 weights per output channel and u8 activations per token)")
        ("int8-weight-bits", po::value<int>(), "onnx --dtype int8: 8, or 7 for CPUs without VNNI (ONNX Runtime's "
         "reduce_range); default: what this CPU's int8 uses (vit info)")
        ("img-size", po::value<std::string>(), "export for another input size, N or HxW (resamples pos_embed)");
    // clang-format on
    const CommandSpec command{"export", kUsage, {"model", "output"}};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const std::string format = vm["format"].as<std::string>();
        if (format != "timm" && format != "hf" && format != "onnx")
            throw UsageError("--format must be timm, hf or onnx, got '" + format + "'");
        if (vm["attention"].as<bool>() && format != "onnx") throw UsageError("--attention applies to --format onnx only");
        vit::Dtype dtype = vit::Dtype::F32;
        check_flags("--dtype", [&] { dtype = vit::parse_dtype(vm["dtype"].as<std::string>()); });
        if (dtype != vit::Dtype::F32 && (format != "onnx" || dtype != vit::Dtype::Int8))
            throw UsageError("--dtype " + std::string(vit::to_string(dtype)) +
                             ": the timm and hf folders hold f32 weights; --format onnx writes f32 or int8");
        int weight_levels = 0;
        if (vm.count("int8-weight-bits")) {
            const int bits = vm["int8-weight-bits"].as<int>();
            if (dtype != vit::Dtype::Int8) throw UsageError("--int8-weight-bits applies to --dtype int8 only");
            if (bits != 7 && bits != 8) throw UsageError("--int8-weight-bits must be 7 or 8, got " + std::to_string(bits));
            weight_levels = bits == 8 ? 127 : 63;
        }
        const std::string img_size = vm.count("img-size") ? vm["img-size"].as<std::string>() : "";
        if (!img_size.empty()) parse_img_size(img_size);
        const std::string output = vm["output"].as<std::string>();

        const vit::Checkpoint ckpt = load_model_checkpoint(vm["model"].as<std::string>(), img_size);
        // One write of the whole model follows (seconds for a large one): say so before it starts.
        size_t bytes = 0;
        for (const auto& [name, tensor] : ckpt.weights) bytes += size_t(tensor.numel()) * sizeof(float);
        info("writing " + output + " (" + format + ", " + std::to_string((bytes + (1 << 19)) >> 20) + " MB of weights)");
        if (format == "onnx") {
            const vit::Model model(ckpt);
            vit::OnnxExportOptions opts;
            opts.attention = vm["attention"].as<bool>();
            opts.dtype = dtype;
            opts.int8_weight_levels = weight_levels;
            vit::export_onnx(model, output, opts);
            info("wrote " + output + " (ONNX opset " + std::to_string(opts.opset) + ", " + vit::to_string(dtype) +
                 (opts.attention ? ", with attention outputs)" : ")"));
            return kExitOk;
        }
        const vit::ExportReport report =
            format == "timm" ? vit::export_timm_folder(output, ckpt) : vit::export_hf_folder(output, ckpt);
        for (const std::string& a : report.approximations) warn(a);
        info("wrote " + output + " (" + (format == "timm" ? "timm, architecture " : "Hugging Face, ") +
             report.architecture + ")");
        return kExitOk;
    });
}

}  // namespace vit_cli
