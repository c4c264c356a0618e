# usage: make_big_jpegs.py OUTDIR N [CIFAR_TEST_FOLDER] (Debian python3 with numpy and PIL)
# N large JPEGs (2000x1500, quality 90) for the end-to-end decode test: CIFAR-10 test images upscaled
# (bicubic) with Gaussian noise, so that the JPEG has photo-like entropy.
import os, sys, numpy as np
from PIL import Image
out, n = sys.argv[1], int(sys.argv[2])
src = sys.argv[3] if len(sys.argv) > 3 else "../shared/datasets/cifar10/test"
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs)[:: 10000 // n][:n]
rng = np.random.default_rng(0)
for i, f in enumerate(files):
    im = np.asarray(Image.open(f).convert("RGB").resize((2000, 1500), Image.BICUBIC), dtype=np.float32)
    im = np.clip(im + rng.normal(0, 12, im.shape), 0, 255).astype(np.uint8)
    Image.fromarray(im).save(os.path.join(out, f"photo{i:04d}.jpg"), quality=90)
