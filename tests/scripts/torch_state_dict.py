#!/usr/bin/python3
# A zoo checkpoint loads into the standard PyTorch definitions (benchmarks/torch_models.py:
# RobustBench's PreActResNet-18 and WideResNet, kuangliu's ResNet-18, torchvision's
# ResNet-50) with load_state_dict(strict=True), and the loaded PyTorch model computes the
# logits rampart computes (rampart eval --per-example) on the same images.
# Each model is trained for two steps first (PGD-1, batchnorm in train mode during the
# attack, as --attack-bn auto chooses), so the checkpoint holds moved weights and running
# statistics, and num_batches_tracked counts the train-mode passes as PyTorch counts them.
# Usage: torch_state_dict.py RAMPART_BIN SOURCE_DIR. Exit 77 (skipped) without torch.
import json
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print(f"torch_state_dict: skipped: {e} (scripts/install-deps.sh --with-torch installs python3-torch)")
    sys.exit(77)

rampart, source = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(source, "benchmarks"))
import torch_models  # noqa: E402

torch.set_num_threads(2)
# name, channels, side, classes: CIFAR-10 and -100 shapes, a greyscale WideResNet whose first
# group keeps its width (wrn-10-1: the identity-shortcut block1), ResNet-50 at 64 x 64.
CASES = [("preact-resnet18", 3, 32, 10), ("resnet18", 3, 32, 100), ("wrn-16-4", 3, 32, 10),
         ("wrn-10-1", 1, 32, 10), ("resnet50", 3, 64, 10)]
N, BATCH, STEPS = 16, 8, 2


def run(args, log):
    r = subprocess.run([rampart] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(r.stdout)
        sys.exit(f"torch_state_dict: {log} failed with exit {r.returncode}")
    return r.stdout


failures = []
with tempfile.TemporaryDirectory() as work:
    for name, c, side, classes in CASES:
        rng = np.random.default_rng(len(name))
        images = rng.integers(0, 256, (N, c, side, side), dtype=np.uint8)
        labels = rng.integers(0, classes, N).astype(np.uint8)
        data = os.path.join(work, f"{name}.h5")
        with h5py.File(data, "w") as f:
            f["images"] = images
            f["labels"] = labels
            f.attrs["classes"] = np.int64(classes)
            f.attrs["source"] = "synthetic"
        out = os.path.join(work, name)
        run(["train", "--model", name, "--data", data, "--epochs", "1", "--batch", str(BATCH), "--steps", "1",
             "--eps", "0.03", "--alpha", "0.01", "--lr", "0.01", "--threads", "2", "--out", out], f"training {name}")
        ck = os.path.join(out, "checkpoint.h5")
        per = os.path.join(work, f"{name}-examples.h5")
        run(["eval", "--checkpoint", ck, "--data", data, "--attack", "none", "--per-example", per, "--threads", "2"],
            f"evaluating {name}")

        model, built_as = torch_models.from_checkpoint(torch, ck)  # load_state_dict(strict=True) inside
        if built_as != name:
            failures.append(f"{name}: rebuilt as {built_as!r}, expected the standard definition")
            continue
        with h5py.File(ck, "r") as f:
            keys = set(f["model"].keys())
            tracked = {k: int(np.asarray(f["model"][k])) for k in keys if k.endswith("num_batches_tracked")}
        if keys != set(model.state_dict().keys()):
            failures.append(f"{name}: checkpoint keys differ from the state_dict's")
        # PyTorch counts every train-mode forward: the attack's (1 step) and the update's.
        want = STEPS * 2
        bad = {k: v for k, v in tracked.items() if v != want}
        if not tracked or bad:
            failures.append(f"{name}: num_batches_tracked {bad or 'missing'}, expected {want} everywhere")
        with torch.no_grad():
            x = torch.from_numpy(images.astype(np.float32) / 255.0)
            logits = model(x).numpy()
        with h5py.File(per, "r") as f:
            ours = np.asarray(f["logits"])
            index = np.asarray(f["index"])
        scale = max(1.0, float(np.abs(logits).max()))
        diff = float(np.abs(ours - logits).max()) / scale
        params = sum(p.numel() for p in model.parameters())
        print(f"torch_state_dict: {name}: strict load ok, {params} parameters, {len(keys)} state_dict keys, "
              f"num_batches_tracked {sorted(set(tracked.values()))}, max |logit diff| / scale {diff:.2e}")
        if not np.array_equal(index, np.arange(N)):
            failures.append(f"{name}: per-example index is not 0..{N - 1}")
        if not diff < 1e-4:
            failures.append(f"{name}: logits differ from PyTorch's by {diff:.2e} of their scale (allowed 1e-4)")

if failures:
    sys.exit("torch_state_dict: FAILED:\n  " + "\n  ".join(failures))
print("torch_state_dict: passed")
