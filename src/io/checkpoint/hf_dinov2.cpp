// transformers' DINOv2 (model_type "dinov2", "dinov2_with_registers"), renamed onto timm's
// vit_*_dinov2 and vit_*_reg4_dinov2.
//
//   Dinov2Model, Dinov2WithRegistersModel          no prefix, no classifier: the normed class token
//                                                  (transformers' pooler_output)
//   Dinov2ForImageClassification,                  dinov2.* or dinov2_with_registers.* + classifier: a
//   Dinov2WithRegistersForImageClassification      Linear(2D -> K) on [normed class token ; mean of the
//                                                  normed patch tokens], GlobalPool::TokenAvg (registers
//                                                  are left out of the mean, as transformers does)
//
// Blocks are timm's with LayerScale: x += λ1 ⊙ attn(norm1(x)); x += λ2 ⊙ mlp(norm2(x)).
#include "io/checkpoint/hf.hpp"
#include "vit/util/error.hpp"

namespace vit::detail {

namespace {

// Inside encoder.layer.<i>. (query/key/value are fused by HfRenamer).
const HfRenamer::LayerName kDinov2Layer[] = {
    {"norm1.weight", &BlockParams::norm1_w},
    {"norm1.bias", &BlockParams::norm1_b},
    {"attention.output.dense.weight", &BlockParams::proj_w},
    {"attention.output.dense.bias", &BlockParams::proj_b},
    {"layer_scale1.lambda1", &BlockParams::ls1},
    {"norm2.weight", &BlockParams::norm2_w},
    {"norm2.bias", &BlockParams::norm2_b},
    {"mlp.fc1.weight", &BlockParams::fc1_w},
    {"mlp.fc1.bias", &BlockParams::fc1_b},
    {"mlp.fc2.weight", &BlockParams::fc2_w},
    {"mlp.fc2.bias", &BlockParams::fc2_b},
    {"layer_scale2.lambda1", &BlockParams::ls2},
};

}  // namespace

TensorMap load_hf_dinov2(const json& cfg, const std::string& model_type, const std::string& src, TensorMap weights,
                         const std::string& file, ViTConfig& c) {
    const bool registers = model_type == "dinov2_with_registers";
    c.mlp_ratio = get_num(cfg, "mlp_ratio", 4.0, src);
    if (get_bool(cfg, "use_swiglu_ffn", false, src))
        config_error(src, "use_swiglu_ffn (the SwiGLU MLP of DINOv2 giant) is not supported");
    // transformers always has both LayerScale vectors; layerscale_value only initialises them, as timm's
    // init_values, which must be positive to have them.
    const double ls = get_num(cfg, "layerscale_value", 1.0, src);
    c.init_values = ls > 0 ? static_cast<float>(ls) : 1.0f;
    c.reg_tokens = registers ? get_int(cfg, "num_register_tokens", 4, src) : 0;
    // transformers adds a class-token row of the position embedding to the class token and inserts the
    // registers afterwards, without positions: [cls + pos_0, registers, patches + pos_1..P]. timm's
    // layout for that is no_embed_class (positions for the patches only) with the row folded into the
    // class token, as timm's own conversion of DINOv2 checkpoints does (_convert_dinov2: cls_token +
    // pos_embed[:, 0]). Without registers the two layouts are the same.
    c.no_embed_class = registers;
    const std::string base = registers ? "dinov2_with_registers" : "dinov2";
    const std::string pre = hf_prefix(weights, base);
    const bool classifier = weights.count("classifier.weight") ||
                            hf_architecture_is(cfg, "Dinov2ForImageClassification") ||
                            hf_architecture_is(cfg, "Dinov2WithRegistersForImageClassification");
    c.global_pool = classifier ? GlobalPool::TokenAvg : GlobalPool::Token;
    c.fc_norm = false;
    auto head = weights.find("classifier.weight");
    c.num_classes = head != weights.end() && head->second.ndim() == 2 ? static_cast<int>(head->second.shape[0]) : 0;
    try {
        c.validate();
    } catch (const ConfigError& e) {
        config_error(src, e.what());
    }

    HfRenamer r(std::move(weights), file, c);
    const ParamSlots& s = r.slots();
    r.move(pre + "embeddings.patch_embeddings.projection.weight", s.patch_w);
    r.move(pre + "embeddings.patch_embeddings.projection.bias", s.patch_b);
    r.drop(pre + "embeddings.mask_token");  // masked-image modelling only
    if (registers) {
        const int64_t D = c.embed_dim, P = c.num_patches();
        Tensor pos = r.take(pre + "embeddings.position_embeddings", {1, P + 1, D});
        Tensor cls = r.take(pre + "embeddings.cls_token", {1, 1, D});
        for (int64_t j = 0; j < D; ++j) cls.data[size_t(j)] += pos.data[size_t(j)];
        r.put(s.cls, std::move(cls));
        r.put(s.pos, Tensor({1, P, D}, std::vector<float>(pos.data.begin() + D, pos.data.end())));
        if (s.reg != kNoParam) r.move(pre + "embeddings.register_tokens", s.reg);
        else r.drop(pre + "embeddings.register_tokens");  // num_register_tokens 0: an empty tensor
    } else {
        r.move(pre + "embeddings.cls_token", s.cls);
        r.move(pre + "embeddings.position_embeddings", s.pos);
    }
    r.move_layers(pre + "encoder.layer.", kDinov2Layer);
    r.move(pre + "layernorm.weight", s.norm_w);
    r.move(pre + "layernorm.bias", s.norm_b);
    r.move("classifier.weight", s.head_w);
    r.move("classifier.bias", s.head_b);
    return r.finish();
}

}  // namespace vit::detail
