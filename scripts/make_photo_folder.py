# usage: /usr/bin/python3 scripts/make_photo_folder.py OUT TRAIN_PER_CLASS TEST_PER_CLASS [CLASSES] [PROCESSES]
# (Debian's python3 with numpy and PIL). A synthetic photo folder for the streaming loader's memory and
# speed measurements: OUT/{train,test}/class<k>/<i>.jpg, 500x375 JPEGs (quality 90) with photo-like
# entropy: a random 16x12 colour field biased towards the class's hue, upscaled bicubically, plus
# Gaussian noise (std 12). Deterministic per (class, split, index); existing files are kept, so a larger
# folder can grow from a smaller one.
import os, sys
from multiprocessing import Pool
import numpy as np
from PIL import Image

W, H = 500, 375

def make(job):
    path, cls, classes, seed = job
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    hue = np.array([np.cos(2 * np.pi * cls / classes), np.cos(2 * np.pi * cls / classes + 2.1),
                    np.cos(2 * np.pi * cls / classes + 4.2)])
    field = np.clip(128 + 60 * hue + rng.normal(0, 50, (12, 16, 3)), 0, 255).astype(np.uint8)
    im = np.asarray(Image.fromarray(field).resize((W, H), Image.BICUBIC), dtype=np.float32)
    im = np.clip(im + rng.normal(0, 12, im.shape), 0, 255).astype(np.uint8)
    Image.fromarray(im).save(path, quality=90)

def main():
    out, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    classes = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    procs = int(sys.argv[5]) if len(sys.argv) > 5 else os.cpu_count()
    jobs = []
    for split, n, tag in (("train", n_train, 0), ("test", n_test, 1)):
        for c in range(classes):
            d = os.path.join(out, split, f"class{c}")
            os.makedirs(d, exist_ok=True)
            jobs += [(os.path.join(d, f"{i:06d}.jpg"), c, classes, (tag << 40) | (c << 32) | i) for i in range(n)]
    with Pool(procs) as pool:
        for k, _ in enumerate(pool.imap_unordered(make, jobs, chunksize=64)):
            if k % 5000 == 0:
                print(f"make_photo_folder: {k}/{len(jobs)}", file=sys.stderr)

main()
