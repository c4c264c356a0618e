# tests/fixtures/preprocess/pil_downscale_rgb.bin: Pillow's BICUBIC and BILINEAR resize of a 640x480 RGB
# image given by a formula (the test rebuilds it) down to 61x47 and 200x150, raw RGB bytes one after
# the other: a large downscale factor on three interleaved channels, which the small cases in
# test_preprocess.cpp do not reach. Made with Debian's python3-pil (Pillow 9.4).
import sys
import numpy as np
from PIL import Image
h, w = 480, 640
y, x = np.mgrid[0:h, 0:w]
img = np.stack([(x * 7 + y * 3 + (x * y) % 31) % 256, (x * 5 + y * 11 + (x ^ y) % 23) % 256,
                (x * y // 7 + x * 13) % 256], axis=-1).astype(np.uint8)
out = b""
for size in [(61, 47), (200, 150)]:
    for mode in [Image.BICUBIC, Image.BILINEAR]:
        out += np.asarray(Image.fromarray(img, "RGB").resize(size, mode)).tobytes()
open(sys.argv[1], "wb").write(out)
