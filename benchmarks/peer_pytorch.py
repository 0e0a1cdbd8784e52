#!/usr/bin/python3
# The peer: PyTorch's PGD-7 adversarial training step (../shared/PROTOCOL.md) on
# real Fashion-MNIST batches, timed without data loading; prints one JSON object.
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
    if n < need:  # a small file: cycle through what there is
        reps = (need + n - 1) // n
        images, labels = np.tile(images, (reps, 1, 1, 1))[:need], np.tile(labels, reps)[:need]
    fmt = torch.contiguous_format if a.nchw else torch.channels_last
    xs = torch.from_numpy(images.astype(np.float32) / 255.0).contiguous(memory_format=fmt)
    ys = torch.from_numpy(labels.astype(np.int64))

    model = small_cnn(nn).to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    eps, alpha, k = 0.1, 0.025, 7

    def pgd(x, y):
        model.eval()
        x_adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp_(0, 1)
        for _ in range(k):
            x_adv.requires_grad_(True)
            loss = F.cross_entropy(model(x_adv), y)
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
        loss = F.cross_entropy(model(x_adv), y)
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
    mflop = 143.7
    out = {
        "framework": "pytorch", "version": torch.__version__, "threads": a.threads,
        "layout": "nchw" if a.nchw else "channels_last", "flush_denormal": bool(flushed),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "malloc_mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
        "batch": a.batch, "steps": a.steps, "warmup": a.warmup,
        "step_s_median": med, "step_s_min": times[0], "step_s_max": times[-1],
        "images_per_s": a.batch / med,
        "images_per_s_mean": a.batch * len(times) / sum(times),
        "gflops": a.batch * mflop * 1e6 / med / 1e9,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
