// HfRenamer: a Hugging Face folder's tensors moved onto the parameter layout (see hf.hpp).
#include "hf.hpp"
#include "vit/error.hpp"

namespace vit::detail {

HfRenamer::HfRenamer(TensorMap hf, std::string file, const ViTConfig& c)
    : hf_(std::move(hf)), file_(std::move(file)), config_(c), layout_(param_layout(c)) {
    for (const ParamView& v : layout_.views) by_slot_[v.offset] = &v;
}

const ParamView& HfRenamer::view(size_t slot) const {
    const auto it = by_slot_.find(slot);
    if (it == by_slot_.end()) throw ShapeError(file_ + ": internal error: no parameter at slot " + std::to_string(slot));
    return *it->second;
}

const Shape& HfRenamer::shape(size_t slot) const { return view(slot).shape; }

Tensor HfRenamer::take(const std::string& name, const Shape& want) {
    const auto it = hf_.find(name);
    if (it == hf_.end())
        throw ShapeError(file_ + ": missing tensor '" + name + "' (expected shape " + shape_str(want) + ")");
    if (it->second.shape != want)
        throw ShapeError(file_ + ": tensor '" + name + "' has shape " + shape_str(it->second.shape) + ", expected " +
                         shape_str(want));
    Tensor t = std::move(it->second);
    hf_.erase(it);
    return t;
}

void HfRenamer::put(size_t slot, Tensor t) { out_[view(slot).name] = std::move(t); }

void HfRenamer::move(const std::string& name, size_t slot) {
    if (slot == kNoParam) return;
    put(slot, take(name, shape(slot)));
}

void HfRenamer::fuse_qkv(const std::string& attention, const std::string& kind, size_t slot) {
    if (slot == kNoParam) return;  // qkv_bias false: no biases expected, any present are reported unused
    Shape part = shape(slot);
    part[0] /= 3;
    Tensor qkv;
    qkv.shape = shape(slot);
    qkv.data.reserve(static_cast<size_t>(shape_numel(qkv.shape)));
    for (const char* which : {"query.", "key.", "value."}) {
        const Tensor t = take(attention + which + kind, part);
        qkv.data.insert(qkv.data.end(), t.data.begin(), t.data.end());
    }
    put(slot, std::move(qkv));
}

void HfRenamer::move_layers(const std::string& layer, const LayerName* table, size_t n) {
    for (int i = 0; i < config_.depth; ++i) {
        const std::string h = layer + std::to_string(i) + ".";
        const BlockParams& b = layout_.slots.blocks[size_t(i)];
        fuse_qkv(h + "attention.attention.", "weight", b.qkv_w);
        fuse_qkv(h + "attention.attention.", "bias", b.qkv_b);
        for (size_t k = 0; k < n; ++k) move(h + table[k].hf, b.*(table[k].slot));
    }
}

TensorMap HfRenamer::finish() {
    for (auto& kv : hf_) out_.emplace(kv.first, std::move(kv.second));
    hf_.clear();
    return std::move(out_);
}

}  // namespace vit::detail
