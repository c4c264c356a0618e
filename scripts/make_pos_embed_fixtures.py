#!/usr/bin/env python3
"""Generate tests/fixtures/pos_embed_resample.safetensors: timm's position-embedding resampling.

Run from the repository root with Debian's torch (python3-torch; use /usr/bin/python3 if another
python3 comes first in PATH) and a timm source tree on PYTHONPATH:

    PYTHONPATH=/path/to/timm-src /usr/bin/python3 scripts/make_pos_embed_fixtures.py

Made with timm 1.0.29.dev0 (commit aa4b5850), PyTorch 1.13.

For each variant below, timm builds the model (small: depth 1, narrow), its pos_embed is replaced by
seeded standard-normal values (timm's init has std 0.02, which would make an absolute tolerance
meaningless), and VisionTransformer.set_input_size(img_size=...) changes the resolution. That is
timm's own path: it keeps the prefix rows (class, distillation, register tokens) unless
no_embed_class leaves them out of pos_embed, and resamples the patch grid with
resample_abs_pos_embed, whose defaults are bicubic with antialias=True (checkpoint_filter_fn, used
when loading weights at another size, uses the same defaults). Keys:
  "{variant}.pos_embed"      [1, rows, dim]     before, at the variant's img_size
  "{variant}.{H}x{W}"        [1, rows', dim]    after set_input_size(img_size=(H, W))
The new sizes cover upsampling, downsampling (where antialiasing widens the kernel) and both at once.
"""
import os
import sys

import timm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_f32  # noqa: E402

OUT = 'tests/fixtures/pos_embed_resample.safetensors'

# name -> (timm model name, create_model arguments, new sizes). The C++ test builds the same
# ViTConfig from the facts written next to each variant.
VARIANTS = {
    # class + distillation token, both with pos_embed rows: 2 prefix rows, 6x6 grid.
    'deit_distilled': ('deit_tiny_distilled_patch16_224', dict(img_size=96, embed_dim=8, num_heads=2, depth=1),
                       [(128, 160), (64, 48), (48, 144)]),
    # DINOv2 with 4 registers and no_embed_class: pos_embed covers the 5x5 patches only.
    'dinov2_reg4': ('vit_small_patch14_reg4_dinov2', dict(img_size=70, embed_dim=12, num_heads=2, depth=1),
                    [(98, 126), (42, 56), (28, 112)]),
    # DeiT III: class token, no_embed_class: no prefix rows either.
    'deit3': ('deit3_small_patch16_224', dict(img_size=96, embed_dim=8, num_heads=2, depth=1),
              [(128, 128), (48, 64)]),
    # Registers with embed_class: class + 3 register rows before the 6x6 grid.
    'reg3_embed_class': ('vit_tiny_patch16_224', dict(img_size=96, embed_dim=8, num_heads=2, depth=1, reg_tokens=3),
                         [(112, 80), (32, 64)]),
}


def main():
    torch.manual_seed(0)
    tensors = {}
    for name, (arch, kwargs, sizes) in VARIANTS.items():
        for new_size in sizes:
            model = timm.create_model(arch, pretrained=False, **kwargs)
            with torch.no_grad():
                model.pos_embed.copy_(torch.randn(model.pos_embed.shape, generator=torch.Generator().manual_seed(1)))
            tensors[f'{name}.pos_embed'] = model.pos_embed.detach().numpy().copy()
            model.set_input_size(img_size=new_size)
            assert tuple(model.patch_embed.img_size) == new_size
            tensors[f'{name}.{new_size[0]}x{new_size[1]}'] = model.pos_embed.detach().numpy().copy()
    save_f32(OUT, tensors, {'interpolation': 'bicubic', 'antialias': 'true'})
    print(f'wrote {len(tensors)} tensors to {OUT}')


if __name__ == '__main__':
    main()
