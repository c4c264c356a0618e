// Hugging Face folders (load_hf, hf_folder.cpp): the pieces its model families share, and one loader per
// family of transformers' models. Each family is a renaming of the folder's tensors onto the model's
// parameters; the parameters are addressed by their slots in param_layout (include/vit/model/model.hpp), so
// timm's names are spelled there only. Private to the library.
#pragma once
#include <map>
#include <string>

#include "io/checkpoint/formats.hpp"
#include "vit/model/model.hpp"

namespace vit::detail {

// Which way a renaming runs. A family spells its Hugging Face names beside param_layout's slots once
// (hf_vit.cpp: rename_vit); loading walks those names from the folder's tensors onto the parameters,
// exporting walks the same names back, so the two can never disagree.
enum class HfDirection {
    ToSlots,    // load: tensors under Hugging Face's names -> the parameters (timm's names)
    FromSlots,  // export: the parameters (timm's names) -> tensors under Hugging Face's names
};

// The tensors of one side, moved one by one onto the other: under ToSlots the folder's Hugging Face
// tensors onto the parameters of the configuration's layout, under FromSlots the model's parameters
// onto Hugging Face's names. Every error names `file` (the weights file read or written) and the tensor.
class HfRenamer {
public:
    HfRenamer(TensorMap from, std::string file, const ViTConfig& c, HfDirection dir = HfDirection::ToSlots);

    const ParamSlots& slots() const { return layout_.slots; }
    // The Hugging Face tensor `name` and the parameter at `slot` are one tensor, of the parameter's shape:
    // moved from the one to the other in this renamer's direction. Where the configuration has no such
    // parameter (kNoParam: no qkv bias, no class head) nothing moves; when loading, such a tensor, if
    // present, is left for the model to report as unused.
    void move(const std::string& name, size_t slot);
    // timm fuses query, key and value into one projection: qkv = [W_q; W_k; W_v] stacked along the output
    // rows (and the biases likewise), so that x·qkvᵀ = [q | k | v], the order timm splits it in. Loading
    // fuses the three, exporting splits them. `attention` is the prefix of the three Linear layers
    // ("...attention.attention."), kind "weight" or "bias".
    void qkv(const std::string& attention, const std::string& kind, size_t slot);
    // Every block of the encoder: `layer` is the prefix before the block index ("vit.encoder.layer."),
    // `table` the names inside a block beside their slot; query/key/value as above.
    struct LayerName {
        const char* hf;
        size_t BlockParams::*slot;
    };
    template <size_t N>
    void move_layers(const std::string& layer, const LayerName (&table)[N]) {
        move_layers(layer, table, N);
    }
    // Loading only (ToSlots), for renamings that also change values (DINOv2's position embedding):
    // removes and returns tensor `name`, which must have shape `want`; places a computed tensor on the
    // parameter at `slot`; discards a tensor the model does not use by design (the mask token of
    // masked-image pre-training).
    Tensor take(const std::string& name, const Shape& want);
    void put(size_t slot, Tensor t);
    void drop(const std::string& name) { from_.erase(name); }
    // The shape of the parameter at `slot`.
    const Shape& shape(size_t slot) const;
    // The moved tensors. Loading: every tensor not renamed is kept under its own name, for the model to
    // report as unused. Exporting: a parameter that no Hugging Face name took is a ConfigError naming it
    // (the family's layout has no place for it).
    TensorMap finish();

private:
    void move_layers(const std::string& layer, const LayerName* table, size_t n);
    const ParamView& view(size_t slot) const;

    TensorMap from_, out_;
    std::string file_;
    ViTConfig config_;
    HfDirection dir_;
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
// The way back, for the Hugging Face export (src/io/export/hf_folder.cpp): the parameters of `c` under
// timm's names (exactly the model's tensors) renamed as ViTForImageClassification's, through the same
// names as load_hf_vit. A parameter ViT has no place for is a ConfigError naming `file` and the tensor.
TensorMap hf_vit_weights(TensorMap timm, const ViTConfig& c, const std::string& file);
// DINOv2 and DINOv2 with registers (model_type "dinov2", "dinov2_with_registers") (hf_dinov2.cpp).
TensorMap load_hf_dinov2(const json& cfg, const std::string& model_type, const std::string& src, TensorMap weights,
                         const std::string& file, ViTConfig& c);

}  // namespace vit::detail
