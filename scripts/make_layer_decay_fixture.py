# usage: PYTHONPATH=TIMM_SOURCE /usr/bin/python3 scripts/make_layer_decay_fixture.py tests/fixtures/layer_decay.json
# timm's own layer-wise learning-rate decay (timm.optim.param_groups_layer_decay, layer_decay 0.75,
# weight decay 0.05) for small ViTs of every shape our schema has: class token, registers, norm_pre,
# distillation token and head, fc_norm with average pooling, the attention pool (map), LayerScale. For
# each configuration: the timm keyword arguments and, per parameter, its lr_scale and weight decay.
# tests/train/test_layer_decay.cpp builds the same models from the arguments and compares.
import json, sys
import timm
from timm.optim import param_groups_layer_decay

base = dict(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, mlp_ratio=2.0, num_classes=5)
variants = {
    "plain": dict(),
    "registers_norm_pre": dict(reg_tokens=2, pre_norm=True, no_embed_class=True),
    "avg_fc_norm_layer_scale": dict(global_pool="avg", fc_norm=True, init_values=1e-5),
    "map_pool": dict(global_pool="map", class_token=False),
}
out = {"layer_decay": 0.75, "weight_decay": 0.05, "models": []}
for name, extra in variants.items():
    kw = dict(base, **extra)
    model = timm.models.vision_transformer.VisionTransformer(**kw)
    groups = param_groups_layer_decay(model, weight_decay=0.05, layer_decay=0.75,
                                      no_weight_decay_list=model.no_weight_decay())
    by_param = {id(p): g for g in groups for p in g["params"]}
    params = {n: {"lr_scale": by_param[id(p)]["lr_scale"], "weight_decay": by_param[id(p)]["weight_decay"]}
              for n, p in model.named_parameters()}
    out["models"].append({"name": name, "kwargs": kw, "params": params})
# DeiT's distilled model: a distillation token and head.
from timm.models.deit import VisionTransformerDistilled
kw = dict(base)
model = VisionTransformerDistilled(**kw)
groups = param_groups_layer_decay(model, weight_decay=0.05, layer_decay=0.75, no_weight_decay_list=model.no_weight_decay())
by_param = {id(p): g for g in groups for p in g["params"]}
out["models"].append({"name": "distilled", "kwargs": dict(kw, distilled=True), "params": {
    n: {"lr_scale": by_param[id(p)]["lr_scale"], "weight_decay": by_param[id(p)]["weight_decay"]}
    for n, p in model.named_parameters()}})
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
