// transformers' ViT and DeiT (model_type "vit", "deit"): one encoder layout, renamed onto timm's
// VisionTransformer (and VisionTransformerDistilled).
//
//   ViTForImageClassification                vit.* + classifier                      class token, one head
//   DeiTForImageClassificationWithTeacher    deit.* + cls_classifier                 class and distillation
//                                            + distillation_classifier               tokens, heads averaged
//   DeiTForImageClassification               deit.* + classifier                     the head sees the class
//                                                                                    token only (see below)
//   ViTModel, DeiTModel                      no prefix, no classifier                the normed class token
//
// The same names written back make the Hugging Face export's ViTForImageClassification (hf_vit_weights).
#include "io/checkpoint/hf.hpp"
#include "vit/util/error.hpp"

namespace vit::detail {

namespace {

// Inside encoder.layer.<i>. (query/key/value are fused by HfRenamer).
const HfRenamer::LayerName kVitLayer[] = {
    {"layernorm_before.weight", &BlockParams::norm1_w},
    {"layernorm_before.bias", &BlockParams::norm1_b},
    {"attention.output.dense.weight", &BlockParams::proj_w},
    {"attention.output.dense.bias", &BlockParams::proj_b},
    {"layernorm_after.weight", &BlockParams::norm2_w},
    {"layernorm_after.bias", &BlockParams::norm2_b},
    {"intermediate.dense.weight", &BlockParams::fc1_w},
    {"intermediate.dense.bias", &BlockParams::fc1_b},
    {"output.dense.weight", &BlockParams::fc2_w},
    {"output.dense.bias", &BlockParams::fc2_b},
};

int rows_of(const TensorMap& w, const std::string& name) {
    auto it = w.find(name);
    return it != w.end() && it->second.ndim() == 2 ? static_cast<int>(it->second.shape[0]) : 0;
}

// The family's names beside their slots, walked by the loader (HfDirection::ToSlots) and by the
// export (FromSlots) alike. `pre` is the base model's prefix ("vit.", "deit.", or "" for a bare model);
// DeiT's distillation token is the distillation slot with two heads, else a register (see load_hf_vit).
void rename_vit(HfRenamer& r, const std::string& pre, bool deit, bool two_heads) {
    const ParamSlots& s = r.slots();
    r.move(pre + "embeddings.cls_token", s.cls);
    if (deit) r.move(pre + "embeddings.distillation_token", two_heads ? s.dist : s.reg);
    r.move(pre + "embeddings.position_embeddings", s.pos);
    r.move(pre + "embeddings.patch_embeddings.projection.weight", s.patch_w);
    r.move(pre + "embeddings.patch_embeddings.projection.bias", s.patch_b);
    r.move_layers(pre + "encoder.layer.", kVitLayer);
    r.move(pre + "layernorm.weight", s.norm_w);
    r.move(pre + "layernorm.bias", s.norm_b);
    r.move(two_heads ? "cls_classifier.weight" : "classifier.weight", s.head_w);
    r.move(two_heads ? "cls_classifier.bias" : "classifier.bias", s.head_b);
    r.move("distillation_classifier.weight", s.head_dist_w);
    r.move("distillation_classifier.bias", s.head_dist_b);
}

}  // namespace

TensorMap load_hf_vit(const json& cfg, const std::string& model_type, const std::string& src, TensorMap weights,
                      const std::string& file, ViTConfig& c) {
    const bool deit = model_type == "deit";
    const int inter = get_int(cfg, "intermediate_size", 3072, src);
    if (inter <= 0) config_error(src, "intermediate_size must be positive");
    c.mlp_ratio = static_cast<double>(inter) / c.embed_dim;
    if (c.mlp_hidden() != inter)
        config_error(src, "intermediate_size " + std::to_string(inter) + " is not representable as mlp_ratio");
    c.global_pool = GlobalPool::Token;  // the [CLS] token (and DeiT's distillation token)
    c.fc_norm = false;

    // DeiT: the teacher-distilled model has two heads, on the class and on the distillation token, and
    // averages them as timm's VisionTransformerDistilled does at inference. The plain classifier has one
    // head on the class token, yet its encoder still carries the distillation token: in timm's terms
    // that token is a register, a prefix token with a position row and no head (pos_embed covers every
    // token, as without no_embed_class), so it is loaded as one register token.
    const std::string base = deit ? "deit" : "vit";
    const std::string pre = hf_prefix(weights, base);
    bool two_heads = false;
    if (deit) {
        two_heads = weights.count("cls_classifier.weight") ||
                    hf_architecture_is(cfg, "DeiTForImageClassificationWithTeacher");
        c.distilled = two_heads;
        c.reg_tokens = two_heads ? 0 : 1;
        c.num_classes = rows_of(weights, two_heads ? "cls_classifier.weight" : "classifier.weight");
    } else {
        c.num_classes = rows_of(weights, "classifier.weight");  // none: the normed class token
    }
    try {
        c.validate();
    } catch (const ConfigError& e) {
        config_error(src, e.what());
    }

    HfRenamer r(std::move(weights), file, c);
    r.drop(pre + "embeddings.mask_token");  // masked-image modelling only (use_mask_token)
    rename_vit(r, pre, deit, two_heads);
    // Anything left (ViTModel's pooler, dense + tanh on the class token) keeps its name; the model reports
    // it as unused: the output is the normed class token, last_hidden_state[:, 0].
    return r.finish();
}

TensorMap hf_vit_weights(TensorMap timm, const ViTConfig& c, const std::string& file) {
    HfRenamer r(std::move(timm), file, c, HfDirection::FromSlots);
    rename_vit(r, "vit.", /*deit=*/false, /*two_heads=*/false);
    return r.finish();
}

}  // namespace vit::detail
