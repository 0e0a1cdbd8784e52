#!/usr/bin/python3
# The peer: PyTorch's PGD-K adversarial training step (../shared/PROTOCOL.md: small-cnn,
# PGD-7; or a zoo model, benchmarks/torch_models.py) on real batches, timed without data
# loading; prints one JSON object. --compile runs the model through torch.compile;
# --bf16-attack runs the attack's forwards and backwards under torch.autocast("cpu", bfloat16)
# (the two lines a PyTorch user adds), the weight update's forward and backward in FP32.
# Its best CPU configuration: channels_last, OpenBLAS on 1 thread, glibc's mmap
# threshold raised (the script re-executes itself with those variables when they
# are missing, because both are read at process start).
import argparse
import json
import os
import sys
import time

BEST_ENV = {"OPENBLAS_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "33554432"}


def parse():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default="data/train.h5", help="rampart dataset (HDF5: /images uint8 [N,1,28,28], /labels)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20, help="timed training steps")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--nchw", action="store_true", help="NCHW instead of channels_last")
    p.add_argument("--no-flush-denormal", action="store_true",
                   help="keep denormals (rampart flushes them, so flushing is the fair default)")
    p.add_argument("--no-best-env", action="store_true", help="do not set OpenBLAS/malloc variables")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="small-cnn", help="small-cnn or a zoo model (preact-resnet18, wrn-16-4, ...)")
    p.add_argument("--k", type=int, default=7, help="attack steps")
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--alpha", type=float, default=0.025)
    p.add_argument("--attack-bn", choices=["train", "eval"], default="train",
                   help="batchnorm mode during the attack (rampart's --attack-bn; no effect without batchnorm)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    p.add_argument("--bf16-attack", action="store_true",
                   help="the attack's passes under torch.autocast('cpu', dtype=torch.bfloat16)")
    return p.parse_args()


def small_cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    a = parse()
    if not a.no_best_env and any(os.environ.get(k) != v for k, v in BEST_ENV.items()):
        env = dict(os.environ, **BEST_ENV)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)

    import h5py
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    flushed = False if a.no_flush_denormal else torch.set_flush_denormal(True)
    torch.manual_seed(a.seed)

    n_batches = a.warmup + a.steps
    need = n_batches * a.batch
    with h5py.File(a.data, "r") as f:
        n = min(need, f["images"].shape[0])
        images = f["images"][:n]
        labels = f["labels"][:n]
        classes = int(f.attrs["classes"])  # the model's outputs, as rampart sizes them
    if n < need:  # a small file: cycle through what there is
        reps = (need + n - 1) // n
        images, labels = np.tile(images, (reps, 1, 1, 1))[:need], np.tile(labels, reps)[:need]
    fmt = torch.contiguous_format if a.nchw else torch.channels_last
    xs = torch.from_numpy(images.astype(np.float32) / 255.0).contiguous(memory_format=fmt)
    ys = torch.from_numpy(labels.astype(np.int64))

    if a.model == "small-cnn":
        model = small_cnn(nn)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import torch_models
        model = torch_models.standard_model(torch, a.model, classes,
                                            images.shape[1])
        if model is None:
            raise SystemExit(f"peer_pytorch.py: unknown model {a.model!r}")
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    eps, alpha, k = a.eps, a.alpha, a.k
    net = torch.compile(model) if a.compile else model
    attack_train_mode = a.attack_bn == "train"

    def pgd(x, y):
        model.train(attack_train_mode)
        x_adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp_(0, 1)
        for _ in range(k):
            x_adv.requires_grad_(True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16_attack):
                loss = F.cross_entropy(net(x_adv), y)
            (g,) = torch.autograd.grad(loss, [x_adv])
            with torch.no_grad():
                x_adv = x_adv + alpha * g.sign()
                x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0, 1)
        model.train()
        return x_adv.detach()

    def step(i):
        x = xs[i * a.batch:(i + 1) * a.batch]
        y = ys[i * a.batch:(i + 1) * a.batch]
        x_adv = pgd(x, y)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x_adv), y)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        step(i)
    times = []
    for i in range(a.warmup, n_batches):
        t = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t)
    times.sort()
    med = times[len(times) // 2]
    out = {
        "framework": "pytorch", "version": torch.__version__, "threads": a.threads, "model": a.model,
        "attack_steps": k, "attack_bn": a.attack_bn, "compile": a.compile,
        "attack_precision": "bf16" if a.bf16_attack else "fp32",
        "layout": "nchw" if a.nchw else "channels_last", "flush_denormal": bool(flushed),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "malloc_mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
        "batch": a.batch, "steps": a.steps, "warmup": a.warmup,
        "step_s_median": med, "step_s_min": times[0], "step_s_max": times[-1],
        "images_per_s": a.batch / med,
        "images_per_s_mean": a.batch * len(times) / sum(times),
    }
    if a.model == "small-cnn" and k == 7:
        out["gflops"] = a.batch * 143.7e6 / med / 1e9
    print(json.dumps(out))


if __name__ == "__main__":
    main()
