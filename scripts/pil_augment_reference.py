#!/usr/bin/env python3
"""Prints PIL's results for the augmentation operations that tests/image/test_augment_ops.cpp checks, as C++
initialisers. Needs Pillow (Debian's python3-pil); run with /usr/bin/python3.

The images are the ones the test builds: RGB, 5 wide and 4 high, pixel (x, y, c) = (37 x + 61 y + 89 c
+ 11 x y) % 256; for equalize a 24x24 grey image, (7 x + 13 y + 3 ((x y) % 5)) % 256 + a ramp that
leaves some values empty.
"""
from PIL import Image, ImageEnhance, ImageOps
import PIL
import math


def rgb():
    w, h = 5, 4
    im = Image.new("RGB", (w, h))
    im.putdata([tuple((37 * x + 61 * y + 89 * c + 11 * x * y) % 256 for c in range(3)) for y in range(h) for x in range(w)])
    return im


def grey():
    im = Image.new("L", (24, 24))
    im.putdata([((7 * x + 13 * y + 3 * ((x * y) % 5)) % 256) // 2 + (x // 6) * 20 for y in range(24) for x in range(24)])
    return im


def dump(name, im):
    vals = [v for px in im.getdata() for v in (px if isinstance(px, tuple) else (px,))]
    print(f"    {{\"{name}\", {{{', '.join(str(v) for v in vals)}}}}},")


print("// PIL", PIL.__version__)
fill = (128, 128, 128)
N = Image.NEAREST
cases = [
    ("invert", ImageOps.invert(rgb())),
    ("posterize3", ImageOps.posterize(rgb(), 3)),
    ("solarize100", ImageOps.solarize(rgb(), 100)),
    ("solarize_add50", rgb().point([min(255, i + 50) if i < 128 else i for i in range(256)] * 3)),
    ("autocontrast", ImageOps.autocontrast(rgb())),
    ("color0.4", ImageEnhance.Color(rgb()).enhance(0.4)),
    ("color1.7", ImageEnhance.Color(rgb()).enhance(1.7)),
    ("contrast0.3", ImageEnhance.Contrast(rgb()).enhance(0.3)),
    ("contrast1.6", ImageEnhance.Contrast(rgb()).enhance(1.6)),
    ("brightness1.5", ImageEnhance.Brightness(rgb()).enhance(1.5)),
    ("brightness0.3", ImageEnhance.Brightness(rgb()).enhance(0.3)),
    ("sharpness0.2", ImageEnhance.Sharpness(rgb()).enhance(0.2)),
    ("sharpness1.9", ImageEnhance.Sharpness(rgb()).enhance(1.9)),
    ("shear_x0.3", rgb().transform((5, 4), Image.AFFINE, (1, 0.3, 0, 0, 1, 0), resample=N, fillcolor=fill)),
    ("shear_y-0.25", rgb().transform((5, 4), Image.AFFINE, (1, 0, 0, -0.25, 1, 0), resample=N, fillcolor=fill)),
    ("translate_x1.6", rgb().transform((5, 4), Image.AFFINE, (1, 0, 1.6, 0, 1, 0), resample=N, fillcolor=fill)),
    ("translate_y-1", rgb().transform((5, 4), Image.AFFINE, (1, 0, 0, 0, 1, -1), resample=N, fillcolor=fill)),
    ("rotate30", rgb().rotate(30, resample=N, fillcolor=fill)),
    ("rotate-135", rgb().rotate(-135, resample=N, fillcolor=fill)),
    ("rotate30_bilinear", rgb().rotate(30, resample=Image.BILINEAR, fillcolor=fill)),
    ("rotate30_bicubic", rgb().rotate(30, resample=Image.BICUBIC, fillcolor=fill)),
    ("equalize_grey", ImageOps.equalize(grey())),
]
for name, im in cases:
    dump(name, im)
