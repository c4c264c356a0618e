# usage: PYTHONPATH=TIMM_SOURCE /usr/bin/python3 scripts/bench_loader_torch.py FOLDER [SIZE] [BATCH] [WORKERS] [BATCHES] [AA]
# PyTorch's side of scripts/bench_loader.sh: torchvision's ImageFolder on FOLDER/train with timm's own
# training transform (timm.data.create_transform: RandomResizedCropAndInterpolation with scale 0.08-1
# and random interpolation, flip 0.5, RandAugment, ToTensor, Normalize), a shuffled DataLoader with
# WORKERS worker processes. Prints one JSON line like vit_loader_bench: images/s after the first batch
# and the peak resident memory of this process and of its largest worker.
import json, resource, sys, time
import torch
from torchvision.datasets import ImageFolder
from timm.data import create_transform

folder = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 224
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 64
workers = int(sys.argv[4]) if len(sys.argv) > 4 else 2
batches = int(sys.argv[5]) if len(sys.argv) > 5 else 50
aa = sys.argv[6] if len(sys.argv) > 6 else "rand-m9-mstd0.5-inc1"
torch.set_num_threads(1)
t = time.time()
ds = ImageFolder(folder + "/train", transform=create_transform(size, is_training=True, auto_augment=aa,
                                                               interpolation="random", hflip=0.5))
list_s = time.time() - t
dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                                 persistent_workers=False)
it = iter(dl)
next(it)
t0 = time.time()
done = 0
for _ in range(batches):
    next(it)
    done += 1
s = time.time() - t0
del it  # ends the workers, so that RUSAGE_CHILDREN holds their peak (the largest one's)
print(json.dumps({"engine": "pytorch", "images": len(ds), "list_s": list_s, "batch": batch, "workers": workers,
                  "batches": done, "img_per_s": done * batch / s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
