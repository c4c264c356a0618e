"""Recipe exploration with timm (its own code; made for the GPU machine): which training recipe lifts the
cifar-t ViT on CIFAR-10 within a given number of epochs. One run per process; JSON line per epoch.
usage: python3 timm_recipe_explore.py NAME JSON_SETTINGS OUTDIR
  reads /root/cifar/part_a.npz and part_b.npz, written by scripts/pack_cifar_halves.py (the halves fit
  the GPU machine's 64 MiB transfer limit one call at a time); DEADLINE (epoch seconds) ends a run early."""
import sys, os, io, time, json, math, numpy as np, torch, torch.nn.functional as F
from PIL import Image
import torchvision.transforms as T
import timm
from timm.data import Mixup
from timm.data.auto_augment import rand_augment_transform
from timm.data.auto_augment import augment_and_mix_transform
from timm.data.random_erasing import RandomErasing
from timm.loss import SoftTargetCrossEntropy
from timm.utils import ModelEmaV2
from timm.optim import create_optimizer_v2

name, s, outdir = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
deadline = float(os.environ.get("DEADLINE", "1e18"))
torch.manual_seed(s.get("seed", 0)); np.random.seed(s.get("seed", 0))
def load(path, split):
    z = np.load(path); b, o = z[split + "_bytes"], z[split + "_offsets"]
    x = np.stack([np.asarray(Image.open(io.BytesIO(b[o[i]:o[i + 1]].tobytes())).convert("RGB")) for i in range(len(o) - 1)])
    return x, z[split + "_labels"]
xa, ya = load("/root/cifar/part_a.npz", "train"); xb, yb = load("/root/cifar/part_b.npz", "train")
xtr, ytr = np.concatenate([xa, xb]), np.concatenate([ya, yb]); xte, yte = load("/root/cifar/part_a.npz", "test")
if os.environ.get("SUBSET"): n = int(os.environ["SUBSET"]); xtr, ytr, xte, yte = xtr[:n], ytr[:n], xte[:n], yte[:n]
mean = tuple((xtr.reshape(-1, 3).mean(0) / 255).tolist()); std = tuple((xtr.reshape(-1, 3).std(0) / 255).tolist())
ops = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()]
aa = s.get("aa")
if aa == "trivial": ops.append(T.TrivialAugmentWide(interpolation=T.InterpolationMode.BILINEAR))
elif aa: ops.append(rand_augment_transform(aa, dict(translate_const=int(32 * 0.45), img_mean=tuple(round(255 * m) for m in mean))))
ops += [T.ToTensor(), T.Normalize(mean, std)]
if s.get("reprob", 0) > 0: ops.append(RandomErasing(s["reprob"], mode="pixel", device="cpu"))
tf = T.Compose(ops)
class DS(torch.utils.data.Dataset):
    def __len__(self): return len(ytr)
    def __getitem__(self, i): return tf(Image.fromarray(xtr[i])), int(ytr[i])
B = s.get("batch", 128)
dl = torch.utils.data.DataLoader(DS(), batch_size=B, shuffle=True, drop_last=True, num_workers=s.get("workers", 3),
                                 persistent_workers=True, pin_memory=True)
dev = "cuda" if torch.cuda.is_available() else "cpu"
arch = dict(img_size=32, patch_size=4, embed_dim=128, depth=6, num_heads=4, mlp_ratio=2.0, num_classes=10)
arch.update(s.get("arch", {}))
m = timm.models.vision_transformer.VisionTransformer(**arch, drop_path_rate=s.get("drop_path", 0.0)).to(dev)
opt = create_optimizer_v2(m, "adamw", lr=s.get("lr", 1e-3), weight_decay=s.get("wd", 0.05))
ema = ModelEmaV2(m, decay=s["ema"]) if s.get("ema") else None
mix = None
if s.get("mixup", 0) > 0 or s.get("cutmix", 0) > 0:
    mix = Mixup(mixup_alpha=s.get("mixup", 0), cutmix_alpha=s.get("cutmix", 0), prob=s.get("mixup_prob", 1.0),
                switch_prob=s.get("switch_prob", 0.5), label_smoothing=0.1, num_classes=10)
epochs, warm = s["epochs"], s.get("warmup", 5)
steps_per = len(ytr) // B; total = steps_per * epochs
def lr_at(st):
    w = warm * steps_per
    return s.get("lr", 1e-3) * (st / w if st < w else 0.5 * (1 + math.cos(math.pi * (st - w) / (total - w))))
xte_t = ((torch.from_numpy(xte).permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]).to(dev)
yte_t = torch.from_numpy(yte).to(dev)
def evaluate(model):
    model.eval(); c = 0
    with torch.no_grad():
        for k in range(0, len(yte), 2000): c += (model(xte_t[k:k + 2000]).argmax(1) == yte_t[k:k + 2000]).sum().item()
    model.train(); return c / len(yte)
log = open(os.path.join(outdir, name + ".jsonl"), "w"); t0 = time.time(); st = 0; best = 0
for ep in range(epochs):
    tl = torch.zeros((), device=dev)  # summed on the device: a .item() per step would wait for the GPU
    for x, y in dl:
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        for g in opt.param_groups: g["lr"] = lr_at(st)
        if mix is not None: x, yt = mix(x, y); loss = SoftTargetCrossEntropy()(m(x), yt)
        else: loss = F.cross_entropy(m(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); st += 1; tl += loss.detach()
        if ema is not None: ema.update(m)
    r = dict(run=name, epoch=ep + 1, loss=round(tl.item() / steps_per, 4), test=evaluate(m), t=round(time.time() - t0))
    if ema is not None: r["ema"] = evaluate(ema.module)
    line = json.dumps(r); print(line, flush=True); log.write(line + "\n"); log.flush()
    if time.time() > deadline: print(json.dumps(dict(run=name, stopped="deadline", epoch=ep + 1)), flush=True); break
if s.get("save"):
    state = {k: v.contiguous().cpu() for k, v in m.state_dict().items()}
    try:
        from safetensors.torch import save_file
        save_file(state, os.path.join(outdir, name + ".safetensors"))
    except ImportError:
        torch.save(state, os.path.join(outdir, name + ".pt"))
    json.dump(dict(mean=mean, std=std, arch=arch), open(os.path.join(outdir, name + ".json"), "w"))
