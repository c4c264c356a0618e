// Fuzz target: a Hugging Face folder's config.json and, after a NUL byte if the input has one, its
// preprocessor_config.json. Each configuration is loaded twice: with no tensors at all (every family's
// reading of config.json up to its first missing tensor), and, when it describes a small ViT, with zero
// tensors of the shapes it asks for under transformers' ViT names, so that the loader goes on past the
// tensors to id2label and the preprocessor file.
#include <algorithm>
#include <filesystem>

#include "io/checkpoint/hf.hpp"
#include "fuzz_target.hpp"
#include "vit/model/checkpoint.hpp"
#include "vit/model/model.hpp"

namespace {

// Zero weights are built only up to this many floats (a 4 MB layout), so the fuzzer's time goes into
// parsing rather than into filling large buffers.
constexpr size_t kMaxLayoutFloats = size_t(1) << 20;

// The tensors, under transformers' ViT names, of the ViT that cfg describes, or none when cfg is not a
// valid small ViT. The keys are read as load_hf_vit reads them; the class count is id2label's.
vit::TensorMap fitting_vit_weights(const vit::detail::json& cfg, const std::string& src, const std::string& file) {
    using namespace vit;
    ViTConfig c;
    detail::read_hf_encoder(cfg, src, 1e-12, c);
    c.mlp_ratio = static_cast<double>(detail::get_int(cfg, "intermediate_size", 3072, src)) / c.embed_dim;
    c.global_pool = GlobalPool::Token;
    c.fc_norm = false;
    const auto labels = cfg.find("id2label");
    c.num_classes = labels != cfg.end() && labels->is_object() ? static_cast<int>(labels->size()) : 0;
    c.validate();
    const ParamLayout layout = param_layout(c);
    if (layout.size > kMaxLayoutFloats) return {};
    TensorMap timm;
    for (const ParamView& v : layout.views) timm[v.name] = Tensor(v.shape);
    return detail::hf_vit_weights(std::move(timm), c, file);
}

}  // namespace

VIT_FUZZ_TARGET(hf_config) {
    using namespace vit;
    namespace fs = std::filesystem;
    const fs::path dir = vit::fuzz::scratch_dir() / "hf";
    fs::create_directories(dir);
    const fs::path cfg_path = dir / "config.json", pre_path = dir / "preprocessor_config.json";
    const std::string file = (dir / "model.safetensors").string();
    const uint8_t* nul = std::find(data, data + size, uint8_t(0));
    if (nul == data + size) fs::remove(pre_path);
    else vit::fuzz::write_file(pre_path, nul + 1, static_cast<size_t>(data + size - nul - 1));
    const std::string text(reinterpret_cast<const char*>(data), static_cast<size_t>(nul - data));

    vit::fuzz::expect_typed_errors([&] {
        const detail::json cfg = detail::parse_json_text(text, cfg_path.string());
        if (!detail::is_hf_config(cfg)) return;
        vit::fuzz::expect_typed_errors([&] { detail::load_hf(cfg, cfg_path, {}, file); });
        TensorMap weights = fitting_vit_weights(cfg, cfg_path.string(), file);
        if (weights.empty()) return;
        Checkpoint ck = detail::load_hf(cfg, cfg_path, std::move(weights), file);
        ck.source = file;
        validate_checkpoint(ck);
    });
}
