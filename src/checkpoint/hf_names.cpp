// The one table of Hugging Face ViT tensor names against timm's, read in both directions: by the
// loader (hf_folder.cpp) and by the Hugging Face export (src/export/hf_folder.cpp).
#include "formats.hpp"
#include "vit/error.hpp"

namespace vit::detail {

namespace {

struct NamePair {
    const char* hf;
    const char* timm;
};

// Tensors outside the blocks.
constexpr NamePair kTopNames[] = {
    {"vit.embeddings.cls_token", "cls_token"},
    {"vit.embeddings.position_embeddings", "pos_embed"},
    {"vit.embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight"},
    {"vit.embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias"},
    {"vit.layernorm.weight", "norm.weight"},
    {"vit.layernorm.bias", "norm.bias"},
    {"classifier.weight", "head.weight"},
    {"classifier.bias", "head.bias"},
};

// Block i: kHfBlock + i + "." + hf  <->  kTimmBlock + i + "." + timm, followed by "weight" or "bias".
constexpr const char* kHfBlock = "vit.encoder.layer.";
constexpr const char* kTimmBlock = "blocks.";
constexpr NamePair kBlockNames[] = {
    {"attention.output.dense.", "attn.proj."},
    {"layernorm_before.", "norm1."},
    {"layernorm_after.", "norm2."},
    {"intermediate.dense.", "mlp.fc1."},
    {"output.dense.", "mlp.fc2."},
};
// timm's fused projection holds [query; key; value] stacked along the output dimension, so that
// x @ qkv.weight^T yields [q | k | v], which is how timm splits it.
constexpr const char* kTimmQkv = "attn.qkv.";
constexpr const char* kHfQkv[3] = {"attention.attention.query.", "attention.attention.key.",
                                   "attention.attention.value."};

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// "blocks.3.mlp.fc1.weight" with prefix "blocks." -> (3, "mlp.fc1.weight"); false if not a block tensor.
bool split_block_name(const std::string& name, const std::string& prefix, int& index, std::string& rest) {
    if (!starts_with(name, prefix)) return false;
    const size_t dot = name.find('.', prefix.size());
    if (dot == std::string::npos || dot == prefix.size()) return false;
    const std::string digits = name.substr(prefix.size(), dot - prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) return false;
    index = std::stoi(digits);
    rest = name.substr(dot + 1);
    return true;
}

}  // namespace

TensorMap hf_to_timm_weights(TensorMap hf, const std::string& src) {
    TensorMap out;
    auto take = [&](const std::string& name) {
        auto it = hf.find(name);
        if (it == hf.end()) throw ShapeError(src + ": missing tensor '" + name + "'");
        Tensor t = std::move(it->second);
        hf.erase(it);
        return t;
    };
    // Layers present: collect indices from names like vit.encoder.layer.<i>.
    std::vector<int> layers;
    for (const auto& kv : hf) {
        int i = 0;
        std::string rest;
        if (split_block_name(kv.first, kHfBlock, i, rest) && (layers.empty() || layers.back() != i)) layers.push_back(i);
    }
    for (int i : layers) {
        const std::string h = kHfBlock + std::to_string(i) + ".";
        const std::string t = kTimmBlock + std::to_string(i) + ".";
        for (const char* kind : {"weight", "bias"}) {
            const std::string k = kind;
            if (k == "bias" && !hf.count(h + kHfQkv[0] + k)) continue;  // qkv_bias=False
            Tensor q = take(h + kHfQkv[0] + k), kk = take(h + kHfQkv[1] + k), v = take(h + kHfQkv[2] + k);
            if (q.shape != kk.shape || q.shape != v.shape || q.shape.empty())
                throw ShapeError(src + ": query/key/value " + k + " shapes differ in layer " + std::to_string(i) +
                                 ": " + shape_str(q.shape) + ", " + shape_str(kk.shape) + ", " + shape_str(v.shape));
            Tensor qkv;
            qkv.shape = q.shape;
            qkv.shape[0] *= 3;
            qkv.data = std::move(q.data);
            qkv.data.insert(qkv.data.end(), kk.data.begin(), kk.data.end());
            qkv.data.insert(qkv.data.end(), v.data.begin(), v.data.end());
            out[t + kTimmQkv + k] = std::move(qkv);
        }
        for (const NamePair& n : kBlockNames)
            for (const char* kind : {"weight", "bias"}) out[t + n.timm + kind] = take(h + n.hf + kind);
    }
    for (const NamePair& n : kTopNames)
        if (hf.count(n.hf)) out[n.timm] = take(n.hf);
    // Anything left (e.g. a pooler) keeps its name; the model reports it as unused.
    for (auto& kv : hf) out[kv.first] = std::move(kv.second);
    return out;
}

TensorMap timm_to_hf_weights(const TensorMap& timm, const std::string& dest) {
    TensorMap out;
    for (const auto& [name, tensor] : timm) {
        bool done = false;
        for (const NamePair& n : kTopNames)
            if (name == n.timm) {
                out[n.hf] = tensor;
                done = true;
            }
        int i = 0;
        std::string rest;
        if (!done && split_block_name(name, kTimmBlock, i, rest)) {
            const std::string h = kHfBlock + std::to_string(i) + ".";
            for (const NamePair& n : kBlockNames)
                if (starts_with(rest, n.timm)) {
                    out[h + n.hf + rest.substr(std::string(n.timm).size())] = tensor;
                    done = true;
                }
            if (!done && starts_with(rest, kTimmQkv)) {
                const std::string kind = rest.substr(std::string(kTimmQkv).size());
                if (tensor.shape.empty() || tensor.shape[0] % 3 != 0)
                    throw ShapeError(dest + ": tensor '" + name + "' has shape " + shape_str(tensor.shape) +
                                     ", whose first dimension does not split into query, key and value");
                Shape part = tensor.shape;
                part[0] /= 3;
                const size_t n = tensor.data.size() / 3;
                for (size_t j = 0; j < 3; ++j) {
                    const auto first = tensor.data.begin() + static_cast<std::ptrdiff_t>(j * n);
                    out[h + kHfQkv[j] + kind] = Tensor(part, std::vector<float>(first, first + static_cast<std::ptrdiff_t>(n)));
                }
                done = true;
            }
        }
        if (!done) throw ConfigError(dest + ": tensor '" + name + "' has no counterpart in Hugging Face's ViT");
    }
    return out;
}

}  // namespace vit::detail
