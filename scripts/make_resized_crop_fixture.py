# usage: /usr/bin/python3 scripts/make_resized_crop_fixture.py tests/fixtures/resized_crop
# (Debian's python3 with numpy, PIL and torchvision). The pixels torchvision's F.resized_crop gives on
# a PIL image (crop to the box, then PIL's resize with the filter) for a few boxes, filters and output
# sizes, down- and upscaling, as lossless PNGs, with cases.txt listing "file top left height width
# filter out_width out_height" per line. tests/data/test_photo_transforms.cpp reads them.
import os, sys
import numpy as np
from PIL import Image
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
h, w = 47, 61
yy, xx = np.mgrid[0:h, 0:w]
base = np.stack([(xx * 4) % 256, (yy * 5) % 256, (xx * 3 + yy * 2) % 256], axis=-1).astype(np.float64)
img = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
Image.fromarray(img).save(os.path.join(out, "input.png"))
pil = Image.open(os.path.join(out, "input.png")).convert("RGB")
modes = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}
cases = [(0, 0, 47, 61, 24, 24), (5, 9, 30, 22, 16, 16), (10, 3, 12, 40, 32, 20), (20, 30, 9, 7, 24, 24),
         (1, 2, 44, 57, 61, 47)]
lines = []
for top, left, bh, bw, ow, oh in cases:
    for name, mode in modes.items():
        res = F.resized_crop(pil, top, left, bh, bw, [oh, ow], interpolation=mode, antialias=True)
        fname = f"crop_{top}_{left}_{bh}_{bw}_{name}_{ow}x{oh}.png"
        res.save(os.path.join(out, fname))
        lines.append(f"{fname} {top} {left} {bh} {bw} {name} {ow} {oh}")
with open(os.path.join(out, "cases.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
