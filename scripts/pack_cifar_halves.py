# Packs the CIFAR-10 image folder into two halves (train images alternating) + test, JPEG bytes as stored.
import os, sys, numpy as np
root, outdir = sys.argv[1], sys.argv[2]
classes = sorted(os.listdir(os.path.join(root, "train")))
def collect(split):
    items = []
    for ci, c in enumerate(classes):
        d = os.path.join(root, split, c)
        for f in sorted(os.listdir(d)): items.append((os.path.join(d, f), ci))
    return items
def pack(items):
    blobs = [open(p, "rb").read() for p, _ in items]
    lens = np.array([len(b) for b in blobs], np.int64)
    return dict(bytes=np.frombuffer(b"".join(blobs), np.uint8), offsets=np.concatenate([[0], np.cumsum(lens)]),
                labels=np.array([l for _, l in items], np.int64))
tr = collect("train")
np.savez(os.path.join(outdir, "part_a.npz"), classes=np.array(classes), **{"train_" + k: v for k, v in pack(tr[0::2]).items()},
         **{"test_" + k: v for k, v in pack(collect("test")).items()})
np.savez(os.path.join(outdir, "part_b.npz"), **{"train_" + k: v for k, v in pack(tr[1::2]).items()})
