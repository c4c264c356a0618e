// HfRenamer: tensors moved between Hugging Face's names and the parameter layout, either way (see hf.hpp).
#include "io/checkpoint/hf.hpp"
#include "vit/util/error.hpp"

namespace vit::detail {

HfRenamer::HfRenamer(TensorMap from, std::string file, const ViTConfig& c, HfDirection dir)
    : from_(std::move(from)), file_(std::move(file)), config_(c), dir_(dir), layout_(param_layout(c)) {
    for (const ParamView& v : layout_.views) by_slot_[v.offset] = &v;
}

const ParamView& HfRenamer::view(size_t slot) const {
    const auto it = by_slot_.find(slot);
    if (it == by_slot_.end()) throw ShapeError(file_ + ": internal error: no parameter at slot " + std::to_string(slot));
    return *it->second;
}

const Shape& HfRenamer::shape(size_t slot) const { return view(slot).shape; }

Tensor HfRenamer::take(const std::string& name, const Shape& want) {
    const auto it = from_.find(name);
    if (it == from_.end())
        throw ShapeError(file_ + ": missing tensor '" + name + "' (expected shape " + shape_str(want) + ")");
    if (it->second.shape != want)
        throw ShapeError(file_ + ": tensor '" + name + "' has shape " + shape_str(it->second.shape) + ", expected " +
                         shape_str(want));
    Tensor t = std::move(it->second);
    from_.erase(it);
    return t;
}

void HfRenamer::put(size_t slot, Tensor t) { out_[view(slot).name] = std::move(t); }

void HfRenamer::move(const std::string& name, size_t slot) {
    if (slot == kNoParam) return;
    if (dir_ == HfDirection::ToSlots) put(slot, take(name, shape(slot)));
    else out_[name] = take(view(slot).name, shape(slot));
}

void HfRenamer::qkv(const std::string& attention, const std::string& kind, size_t slot) {
    if (slot == kNoParam) return;  // qkv_bias false: no biases (when loading, any present are reported unused)
    const char* parts[] = {"query.", "key.", "value."};
    Shape part = shape(slot);
    part[0] /= 3;
    if (dir_ == HfDirection::ToSlots) {
        Tensor fused;
        fused.shape = shape(slot);
        fused.data.reserve(static_cast<size_t>(shape_numel(fused.shape)));
        for (const char* which : parts) {
            const Tensor t = take(attention + which + kind, part);
            fused.data.insert(fused.data.end(), t.data.begin(), t.data.end());
        }
        put(slot, std::move(fused));
    } else {
        const Tensor fused = take(view(slot).name, shape(slot));
        const auto n = static_cast<std::ptrdiff_t>(shape_numel(part));
        for (std::ptrdiff_t j = 0; j < 3; ++j) {
            const auto first = fused.data.begin() + j * n;
            out_[attention + parts[j] + kind] = Tensor(part, std::vector<float>(first, first + n));
        }
    }
}

void HfRenamer::move_layers(const std::string& layer, const LayerName* table, size_t n) {
    for (int i = 0; i < config_.depth; ++i) {
        const std::string h = layer + std::to_string(i) + ".";
        const BlockParams& b = layout_.slots.blocks[size_t(i)];
        qkv(h + "attention.attention.", "weight", b.qkv_w);
        qkv(h + "attention.attention.", "bias", b.qkv_b);
        for (size_t k = 0; k < n; ++k) move(h + table[k].hf, b.*(table[k].slot));
    }
}

TensorMap HfRenamer::finish() {
    if (dir_ == HfDirection::FromSlots && !from_.empty())
        throw ConfigError(file_ + ": tensor '" + from_.begin()->first + "' has no counterpart in the Hugging Face layout");
    for (auto& kv : from_) out_.emplace(kv.first, std::move(kv.second));
    from_.clear();
    return std::move(out_);
}

}  // namespace vit::detail
