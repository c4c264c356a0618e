#!/usr/bin/env python3
"""Check a `vit export --format timm` folder against timm itself (not run in CI: it needs torch and timm).

    build/vit export --model MODEL --output EXPORT_DIR
    build/vit forward --model EXPORT_DIR --input INPUT.safetensors --output OURS.safetensors
    PYTHONPATH=/path/to/timm /usr/bin/python3 scripts/check_export_with_timm.py \
        EXPORT_DIR INPUT.safetensors OURS.safetensors [--key input] [--tolerance 1e-4]

INPUT.safetensors holds the (already normalised) input [N, C, H, W] under --key; OURS.safetensors is
what `vit forward` wrote for it ("logits"). On Debian, torch comes from python3-torch, which only
/usr/bin/python3 sees; the safetensors Python package is not needed (the files are read here).

The model is built twice:
  1. as the export's contract says: timm.create_model(architecture, pretrained=False, **model_args,
     num_classes=..., global_pool=...) with the values from config.json, then
     load_state_dict(model.safetensors, strict=True): every tensor present, none left over;
  2. by timm's own Hub-folder reader, timm.create_model("local-dir:EXPORT_DIR", pretrained=False),
     which reads only model_args and num_classes, to show that the folder means the same model there;
     its weights come from the same file (strict=True as well).
Both models' logits are compared with ours; the script prints the largest absolute differences and
exits 1 if either exceeds the tolerance (or a load fails).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

import timm

DTYPES = {'F32': np.float32, 'F16': np.float16, 'BF16': None, 'F64': np.float64, 'I64': np.int64}


def read_safetensors(path):
    """name -> float32 torch tensor (enough of the format for these files)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        begin, end = entry['data_offsets']
        raw = data[begin:end]
        if entry['dtype'] == 'BF16':  # the upper half of a float32
            a = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=DTYPES[entry['dtype']])
        out[name] = torch.from_numpy(a.astype(np.float32).reshape(entry['shape']).copy())
    return out


def load_strict(model, state_dict, what):
    """load_state_dict(strict=True), with the differences spelled out if it fails."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    extra = sorted(set(state_dict) - set(own))
    shapes = [f'{k}: file {tuple(state_dict[k].shape)}, timm {tuple(own[k].shape)}'
              for k in sorted(set(own) & set(state_dict)) if own[k].shape != state_dict[k].shape]
    if missing or extra or shapes:
        print(f'{what}: the weights do not fit timm\'s model')
        for title, items in (('missing', missing), ('unexpected', extra), ('shape', shapes)):
            if items:
                print(f'  {title}: {", ".join(items[:10])}{" ..." if len(items) > 10 else ""}')
        return False
    model.load_state_dict(state_dict, strict=True)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('export_dir')
    ap.add_argument('input')
    ap.add_argument('expected', help="`vit forward` output holding 'logits'")
    ap.add_argument('--key', default='input', help='name of the input tensor (default: input)')
    ap.add_argument('--tolerance', type=float, default=1e-4)
    args = ap.parse_args()

    with open(os.path.join(args.export_dir, 'config.json')) as f:
        cfg = json.load(f)
    weights = read_safetensors(os.path.join(args.export_dir, 'model.safetensors'))
    x = read_safetensors(args.input)[args.key]
    ours = read_safetensors(args.expected)['logits']

    # The top-level values win over model_args (model_args repeats global_pool only when it differs
    # from the registration's, with the same value).
    kwargs = dict(cfg.get('model_args', {}))
    kwargs.update(num_classes=cfg['num_classes'], global_pool=cfg['global_pool'])
    print(f'timm {timm.__version__}, torch {torch.__version__}')
    print(f'architecture {cfg["architecture"]}, kwargs {json.dumps(kwargs, sort_keys=True)}')
    models = {
        'create_model(architecture, **model_args)': timm.create_model(cfg['architecture'], pretrained=False, **kwargs),
        'create_model("local-dir:...")': timm.create_model('local-dir:' + os.path.abspath(args.export_dir),
                                                           pretrained=False),
    }

    ok = True
    for what, model in models.items():
        if not load_strict(model, weights, what):
            ok = False
            continue
        model.eval()
        with torch.no_grad():
            theirs = model(x)
        if theirs.shape != ours.shape:
            print(f'{what}: timm gives shape {tuple(theirs.shape)}, ours {tuple(ours.shape)}')
            ok = False
            continue
        diff = (theirs - ours).abs().max().item()
        print(f'{what}: load_state_dict(strict=True) ok, {len(weights)} tensors; '
              f'logits {tuple(ours.shape)}, max |timm - ours| = {diff:.3g}')
        ok = ok and diff <= args.tolerance
    print('OK' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
