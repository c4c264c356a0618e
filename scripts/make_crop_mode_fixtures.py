#!/usr/bin/env python3
"""Generate tests/fixtures/preprocess/crop_modes.safetensors: timm's eval transform for its crop modes.

Run from the repository root with Debian's torch/torchvision/PIL (python3-torch, python3-torchvision,
python3-pil; use /usr/bin/python3 if another python3 comes first in PATH) and a timm source tree on
PYTHONPATH:

    PYTHONPATH=/path/to/timm-src /usr/bin/python3 scripts/make_crop_mode_fixtures.py

Made with timm 1.0.29.dev0 (commit aa4b5850), PyTorch 1.13, torchvision 0.14, Pillow 9.4.

Each tensor is timm.data.create_transform(input_size, crop_pct, crop_mode, interpolation='bicubic',
mean/std = ImageNet's) applied to the image opened with PIL and converted to RGB, as timm's datasets
do; shape [3, H, W], normalised. The keys are "{crop_mode}.{crop_pct}.{H}x{W}.{image}", where image
is a file of tests/fixtures/preprocess, or "squirrel_cls.jpg.transposed" for that photograph transposed
(PIL's Image.Transpose.TRANSPOSE, OpenCV's cv::transpose) so that a portrait image is covered too.
Sizes are small on purpose (64x64, and 48x64 for a non-square model input) to keep the file small.

ImageNet's mean makes the 'border' padding colour round(255 * mean) = (124, 116, 104), so a fill
taken from the wrong place shows; crop_pct 0.875 and 0.95 give scale sizes 73 and 67 for 64, and
(54, 73) for 48x64, with odd padding and crop remainders on these images.
"""
import os
import sys

import numpy as np
from PIL import Image
from timm.data import create_transform
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_f32  # noqa: E402

DATA = 'tests/fixtures/preprocess'
OUT = os.path.join(DATA, 'crop_modes.safetensors')

SQUARE_IMAGES = ['fruits.jpg', 'building_gray.png', 'squirrel_cls.jpg.transposed']
NON_SQUARE_IMAGES = ['fruits.jpg', 'squirrel_cls.jpg.transposed']
MODES = ['squash', 'border']


def open_image(name):
    transposed = name.endswith('.transposed')
    img = Image.open(os.path.join(DATA, name[:-len('.transposed')] if transposed else name)).convert('RGB')
    return img.transpose(Image.Transpose.TRANSPOSE) if transposed else img


def reference(name, size, crop_pct, mode):
    t = create_transform(input_size=(3,) + size, is_training=False, interpolation='bicubic',
                         mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD, crop_pct=crop_pct,
                         crop_mode=mode)
    return t(open_image(name)).numpy()


def main():
    cases = [(mode, pct, (64, 64), name) for mode in MODES for pct in (0.875, 0.95) for name in SQUARE_IMAGES]
    cases += [(mode, 0.875, (48, 64), name) for mode in MODES for name in NON_SQUARE_IMAGES]
    tensors = {}
    for mode, pct, size, name in cases:
        key = f'{mode}.{pct}.{size[0]}x{size[1]}.{name}'
        tensors[key] = reference(name, size, pct, mode)
        assert tensors[key].shape == (3,) + size, key
    meta = {'interpolation': 'bicubic', 'mean': list(IMAGENET_DEFAULT_MEAN), 'std': list(IMAGENET_DEFAULT_STD)}
    save_f32(OUT, tensors, meta)
    print(f'wrote {len(tensors)} tensors to {OUT}')


if __name__ == '__main__':
    main()
