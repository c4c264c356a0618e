#!/usr/bin/env python3
"""Generate models/timm-architectures.json: the timm ViT architectures our C++ engine can build.

Made with timm (pytorch-image-models) commit aa4b5850 (timm 1.0.29.dev0), PyTorch 1.13 (Debian's
python3-torch). Run from the repository root, with a timm source tree on PYTHONPATH:

    PYTHONPATH=/path/to/timm-src python3 scripts/make_timm_arch_table.py > models/timm-architectures.json

(It needs torch and PyYAML importable by that python3: on Debian `apt-get install python3-torch
python3-torchvision python3-yaml`, then use /usr/bin/python3 if another python3 comes first in PATH.
No weights are downloaded and no model is built.)

The commit written into "source" is taken from $TIMM_COMMIT, else from `git rev-parse` of the timm
tree when it is a git checkout, else it is aa4b5850 (the commit this table was made with).

How: every model registered in timm/models/vision_transformer.py and timm/models/deit.py whose name
starts with vit_, deit_ or deit3_ is called with pretrained=False while the modules'
_create_vision_transformer / _create_deit are replaced by recorders, so we get each registration's
(variant, kwargs) without building anything. Each registration becomes either
  "architectures": name -> VisionTransformer keyword arguments (JSON values, conventions below), or
  "excluded":      name -> the keyword argument(s) that change the maths and that we do not implement.

Conventions for the arguments:
  * img_size, patch_size, embed_dim, depth, num_heads are always present. Registrations never set
    img_size themselves: timm's build_model_with_cfg (timm/models/_builder.py,
    _update_default_model_kwargs) fills img_size from the default pretrained cfg's input_size when
    that cfg has fixed_input_size (all of these do), so vit_base_patch16_384 is built at 384. We
    apply the same rule (img_size from the kwargs, else the default cfg's input_size, else 224).
    An int when square, [h, w] otherwise.
  * num_classes and in_chans appear only when the registration sets them (timm would otherwise take
    them from the pretrained cfg, e.g. num_classes 0 for DINOv2/SigLIP; checkpoints carry their own).
  * init_values and fc_norm are omitted when None. VisionTransformer resolves fc_norm=None as
    `global_pool in ('avg', 'avgmax', 'max')`.
  * act_layer: "gelu" | "quick_gelu" | "gelu_tanh" (omitted when not set: VisionTransformer's
    default is nn.GELU, i.e. "gelu").
  * norm_eps: the LayerNorm eps when the registration sets norm_layer (omitted otherwise: the
    default is timm's LayerNorm, eps 1e-6). nn.LayerNorm -> 1e-5, timm LayerNorm -> 1e-6,
    partial(LayerNorm, eps=x) -> x.
  * distilled: true for DeiT distilled models (VisionTransformerDistilled: a second, distillation
    token after the class token, and a second head; the output is the mean of the two heads).
  * Arguments that do not change inference maths are dropped (dropout and drop-path rates, weight
    init, dynamic_img_size, out_indices, pretrained_strict, fix_init).
  * Any other argument whose value differs from VisionTransformer's default (qk_norm, mlp_layer,
    block_fn, attn_layer, non-LayerNorm norm_layer, other activations, final_norm=False, ...) or
    that is not recognised puts the model under "excluded".
"""
import functools
import inspect
import json
import os
import subprocess
import sys

import torch.nn as nn

import timm
import timm.models.deit as deit_mod
import timm.models.vision_transformer as vt_mod
from timm.layers import Attention, Mlp, PatchEmbed
from timm.layers import LayerNorm as TimmLayerNorm
from timm.layers.activations import GELU as TimmGELU, GELUTanh, QuickGELU
from timm.layers.create_act import get_act_layer
from timm.layers.create_norm import get_norm_layer
from timm.models._builder import resolve_pretrained_cfg
from timm.models._registry import list_models, model_entrypoint

DEFAULT_TIMM_COMMIT = 'aa4b5850'
PREFIXES = ('vit_', 'deit_', 'deit3_')
MODULES = ('vision_transformer', 'deit')

# kwargs that do not change inference maths
IGNORED = {
    'drop_rate', 'pos_drop_rate', 'patch_drop_rate', 'proj_drop_rate', 'attn_drop_rate',
    'drop_path_rate', 'weight_init', 'dynamic_img_size', 'out_indices', 'pretrained_strict',
    'fix_init',  # only rescales the initial weights
}

# kwargs copied as they are (after type checks)
INT_ARGS = ('in_chans', 'num_classes', 'embed_dim', 'depth', 'num_heads', 'reg_tokens')
BOOL_ARGS = ('qkv_bias', 'class_token', 'no_embed_class', 'pre_norm')
SUPPORTED_POOLS = ('token', 'avg', 'map')

VT_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(vt_mod.VisionTransformer.__init__).parameters.items()
    if p.default is not inspect.Parameter.empty
}


def timm_commit():
    if os.environ.get('TIMM_COMMIT'):
        return os.environ['TIMM_COMMIT']
    root = os.path.dirname(os.path.dirname(os.path.abspath(timm.__file__)))
    try:
        out = subprocess.run(
            ['git', '-C', root, 'rev-parse', '--short=8', 'HEAD'],
            capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return DEFAULT_TIMM_COMMIT


def describe(value):
    """Short, stable text for a kwarg value in an exclusion reason."""
    if isinstance(value, functools.partial):
        for module in (vt_mod, timm.layers):  # a named partial, e.g. SwiGLUPacked
            for attr, obj in vars(module).items():
                if obj is value:
                    return attr
        args = ', '.join(f'{k}={describe(v)}' for k, v in sorted(value.keywords.items()))
        return f'partial({describe(value.func)}{", " if args else ""}{args})'
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__name__
    return repr(value)


def size_value(v):
    """int when square / scalar, [h, w] otherwise."""
    if isinstance(v, (tuple, list)):
        assert len(v) == 2, v
        h, w = int(v[0]), int(v[1])
        return h if h == w else [h, w]
    return int(v)


def act_name(act):
    """'gelu' | 'quick_gelu' | 'gelu_tanh', or None when not one of these."""
    if isinstance(act, str):
        try:
            act = get_act_layer(act)
        except KeyError:
            return None
    if isinstance(act, functools.partial):
        if act.func in (nn.GELU, TimmGELU) and not act.args and set(act.keywords) <= {'approximate'}:
            approx = act.keywords.get('approximate', 'none')
            return {'none': 'gelu', 'tanh': 'gelu_tanh'}.get(approx)
        return None
    if act in (nn.GELU, TimmGELU):
        return 'gelu'
    if act is QuickGELU:
        return 'quick_gelu'
    if act is GELUTanh:
        return 'gelu_tanh'
    return None


def layernorm_eps(norm):
    """eps of a LayerNorm norm_layer, or None when it is not a plain (affine) LayerNorm."""
    try:
        norm = get_norm_layer(norm)  # strings -> classes; partials kept
    except (KeyError, AssertionError):
        return None
    keywords = {}
    if isinstance(norm, functools.partial):
        if norm.args:
            return None
        keywords = dict(norm.keywords)
        norm = norm.func
    if norm not in (nn.LayerNorm, TimmLayerNorm):
        return None
    eps = keywords.pop('eps', inspect.signature(norm.__init__).parameters['eps'].default)
    if keywords:  # e.g. affine=False / elementwise_affine=False
        return None
    return float(eps)


def is_default(name, value):
    if name not in VT_DEFAULTS:
        return False
    default = VT_DEFAULTS[name]
    if name == 'attn_layer':
        return value is Attention or value in ('', 'attn')
    if name == 'block_fn':
        return value is vt_mod.Block
    if name == 'mlp_layer':
        return value is Mlp
    if name == 'embed_layer':
        return value is PatchEmbed
    if name == 'pos_embed':
        return value == 'learn'
    return type(value) is type(default) and value == default


def convert(variant, kwargs, distilled):
    """-> (args, None) for a buildable model, (None, reason) for an excluded one."""
    args = {}
    problems = []
    kwargs = dict(kwargs)

    cfg = resolve_pretrained_cfg(variant).to_dict()
    img_size = kwargs.pop('img_size', None)
    if img_size is None:
        input_size = cfg.get('input_size') if cfg.get('fixed_input_size', False) else None
        img_size = tuple(input_size[-2:]) if input_size else VT_DEFAULTS['img_size']
    args['img_size'] = size_value(img_size)
    args['patch_size'] = size_value(kwargs.pop('patch_size', VT_DEFAULTS['patch_size']))
    for name in ('embed_dim', 'depth', 'num_heads'):
        args[name] = int(kwargs.pop(name, VT_DEFAULTS[name]))

    for name, value in sorted(kwargs.items()):
        if name in IGNORED:
            continue
        if name in INT_ARGS and isinstance(value, int) and not isinstance(value, bool):
            args[name] = value
        elif name in BOOL_ARGS and isinstance(value, bool):
            args[name] = value
        elif name == 'mlp_ratio' and isinstance(value, (int, float)) and not isinstance(value, bool):
            args[name] = value
        elif name == 'init_values' and (value is None or isinstance(value, (int, float))):
            if value is not None:
                args[name] = float(value)
        elif name == 'fc_norm' and (value is None or isinstance(value, bool)):
            if value is not None:
                args[name] = value
        elif name == 'global_pool' and value in SUPPORTED_POOLS:
            args[name] = value
        elif name == 'act_layer' and value in (None, ''):
            continue  # VisionTransformer: get_act_layer(act_layer) or nn.GELU
        elif name == 'act_layer' and act_name(value) is not None:
            args[name] = act_name(value)
        elif name == 'norm_layer' and value in (None, ''):
            continue  # VisionTransformer: get_norm_layer(norm_layer) or LayerNorm (eps 1e-6)
        elif name == 'norm_layer' and layernorm_eps(value) is not None:
            args['norm_eps'] = layernorm_eps(value)
        elif name == 'use_naflex' and not value:
            continue
        elif is_default(name, value):
            continue
        else:
            problems.append(f'{name}={describe(value)}')

    if not args.get('class_token', True) and args.get('global_pool', 'token') == 'token':
        problems.append("class_token=False with global_pool='token'")
    if distilled:
        if args.get('global_pool', 'token') != 'token' or args.get('reg_tokens', 0):
            problems.append('distilled with global_pool other than token or with reg_tokens')
        args['distilled'] = True

    if problems:
        return None, '; '.join(problems)
    return args, None


def main():
    records = []

    def record_vit(variant, pretrained=False, **kwargs):
        records.append((variant, kwargs, False))

    def record_deit(variant, pretrained=False, distilled=False, **kwargs):
        records.append((variant, kwargs, distilled))

    vt_mod._create_vision_transformer = record_vit
    deit_mod._create_deit = record_deit

    architectures, excluded = {}, {}
    for name in list_models(module=list(MODULES)):
        if not name.startswith(PREFIXES):
            continue
        records.clear()
        model_entrypoint(name)(pretrained=False)
        if len(records) != 1:
            raise RuntimeError(f'{name}: expected one _create_* call, got {len(records)}')
        variant, kwargs, distilled = records[0]
        if variant != name:
            raise RuntimeError(f'{name}: registered variant is {variant}')
        args, reason = convert(variant, kwargs, distilled)
        if args is None:
            excluded[name] = reason
        else:
            architectures[name] = args

    if timm.__version__ != '1.0.29.dev0':
        print(f'note: timm {timm.__version__}; the table in the repository was made with 1.0.29.dev0',
              file=sys.stderr)
    table = {
        'source': f'timm {timm_commit()} timm/models/vision_transformer.py and deit.py registrations; '
                  f'made by scripts/make_timm_arch_table.py',
        'architectures': architectures,
        'excluded': excluded,
    }
    json.dump(table, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write('\n')
    print(f'{len(architectures)} architectures, {len(excluded)} excluded', file=sys.stderr)


if __name__ == '__main__':
    main()
