#include "vit/io/checkpoint.hpp"

#include "io/checkpoint/formats.hpp"
#include "vit/util/error.hpp"
#include "vit/io/safetensors.hpp"

namespace vit {

using namespace detail;

namespace {

Checkpoint load_with_config(const fs::path& cfg_path, TensorMap weights, const std::string& weights_file) {
    const json cfg = read_json_file(cfg_path);
    return is_hf_config(cfg) ? load_hf(cfg, cfg_path, std::move(weights), weights_file)
                             : load_timm(cfg, cfg_path, std::move(weights));
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) throw IoError("no such file or directory: " + path);
    Checkpoint ck;
    if (fs::is_directory(p, ec)) {
        const fs::path model = p / "model.safetensors";
        const fs::path cfg = p / "config.json";
        if (!fs::exists(model, ec)) throw IoError(path + ": expected model file " + model.string());
        SafeTensors st = read_safetensors(model.string());
        if (is_native(st)) {
            ck = load_native(std::move(st), model.string());
        } else {
            if (!fs::exists(cfg, ec)) throw IoError(path + ": expected configuration file " + cfg.string());
            ck = load_with_config(cfg, std::move(st.tensors), model.string());
        }
    } else {
        SafeTensors st = read_safetensors(path);
        if (is_native(st)) {
            ck = load_native(std::move(st), path);
        } else {
            const fs::path cfg = p.parent_path().empty() ? fs::path("config.json") : p.parent_path() / "config.json";
            if (!fs::exists(cfg, ec))
                throw FormatError(path + ": the model configuration is missing (no 'vit.config' metadata and no " +
                                  cfg.string() + ")");
            ck = load_with_config(cfg, std::move(st.tensors), path);
        }
    }
    ck.source = path;
    validate_checkpoint(ck);
    return ck;
}

}  // namespace vit
