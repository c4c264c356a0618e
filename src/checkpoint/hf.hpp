// Hugging Face folders (load_hf, hf_folder.cpp): the pieces its model families share, and one loader per
// family of transformers' models. Each family is a renaming of the folder's tensors onto the model's
// parameters; the parameters are addressed by their slots in param_layout (include/vit/model.hpp), so
// timm's names are spelled there only. Private to the library.
#pragma once
#include <map>
#include <string>

#include "formats.hpp"
#include "vit/model.hpp"

namespace vit::detail {

// The folder's tensors under their Hugging Face names, moved one by one onto the parameters of the
// configuration's layout. Every error names the weights file and the Hugging Face tensor.
class HfRenamer {
public:
    HfRenamer(TensorMap hf, std::string file, const ViTConfig& c);

    const ParamSlots& slots() const { return layout_.slots; }
    // Moves tensor `name` onto the parameter at `slot`, whose shape it must have. Where the configuration
    // has no such parameter (kNoParam: no qkv bias, no class head) the tensor, if any, is left for the
    // model to report as unused.
    void move(const std::string& name, size_t slot);
    // timm fuses query, key and value into one projection: qkv = [W_q; W_k; W_v] stacked along the output
    // rows (and the biases likewise), so that x·qkvᵀ = [q | k | v], the order timm splits it in.
    // `attention` is the prefix of the three Linear layers ("...attention.attention."), kind "weight" or
    // "bias".
    void fuse_qkv(const std::string& attention, const std::string& kind, size_t slot);
    // Every block of the encoder: `layer` is the prefix before the block index ("vit.encoder.layer."),
    // `table` the names inside a block beside their slot; query/key/value are fused as above.
    struct LayerName {
        const char* hf;
        size_t BlockParams::*slot;
    };
    template <size_t N>
    void move_layers(const std::string& layer, const LayerName (&table)[N]) {
        move_layers(layer, table, N);
    }
    // Removes and returns tensor `name`, which must have shape `want`: for renamings that also change
    // values (DINOv2's position embedding).
    Tensor take(const std::string& name, const Shape& want);
    // Places a computed tensor on the parameter at `slot`.
    void put(size_t slot, Tensor t);
    // The shape of the parameter at `slot`.
    const Shape& shape(size_t slot) const;
    bool has(const std::string& name) const { return hf_.count(name) != 0; }
    // Discards a tensor the model does not use by design (the mask token of masked-image pre-training).
    void drop(const std::string& name) { hf_.erase(name); }
    // The renamed tensors, plus every tensor not renamed under its own name: the model reports those.
    TensorMap finish();

private:
    void move_layers(const std::string& layer, const LayerName* table, size_t n);
    const ParamView& view(size_t slot) const;

    TensorMap hf_, out_;
    std::string file_;
    ViTConfig config_;
    ParamLayout layout_;
    std::map<size_t, const ParamView*> by_slot_;
};

// Common to every family's config.json: the encoder's shape, the image geometry and the activation.
// `default_eps` is the family's layer_norm_eps default.
void read_hf_encoder(const json& cfg, const std::string& src, double default_eps, ViTConfig& c);

// Whether config.json's "architectures" lists `name` (the transformers class the folder was saved from).
bool hf_architecture_is(const json& cfg, const std::string& name);

// The transformers prefix of the base model inside a task model ("vit." in ViTForImageClassification),
// or "" for a bare base model (ViTModel) whose tensors carry none.
std::string hf_prefix(const TensorMap& weights, const std::string& base);

// preprocessor_config.json beside config.json (ViTImageProcessor, DeiTImageProcessor, BitImageProcessor),
// or ViTImageProcessor's defaults at the model's size when the file is absent.
PreprocessConfig read_hf_preprocessor(const fs::path& cfg_path, const ViTConfig& c);

// The families. Each reads its own keys of config.json (src) into `c` after read_hf_encoder, decides the
// head and the prefix tokens from the architecture and the tensors present, and renames the tensors of
// the weights file (file).
// ViT and DeiT (model_type "vit", "deit"): transformers' ViT encoder layout (hf_vit.cpp).
TensorMap load_hf_vit(const json& cfg, const std::string& model_type, const std::string& src, TensorMap weights,
                      const std::string& file, ViTConfig& c);
// DINOv2 and DINOv2 with registers (model_type "dinov2", "dinov2_with_registers") (hf_dinov2.cpp).
TensorMap load_hf_dinov2(const json& cfg, const std::string& model_type, const std::string& src, TensorMap weights,
                         const std::string& file, ViTConfig& c);

}  // namespace vit::detail
