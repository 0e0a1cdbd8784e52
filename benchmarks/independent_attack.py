#!/usr/bin/python3
# Attacks a rampart checkpoint with attacks rampart did not write: PyTorch
# rebuilds the model from the checkpoint (torch_models.py: the standard definition of a
# zoo model, or the layers of arch_json; /model holds PyTorch's state_dict) and torchattacks runs PGD and AutoAttack's APGD-CE and
# APGD-DLR on it. rampart's own PGD-20 figure is honest when none of these finds
# much more (../shared/PROTOCOL.md: a drop of more than a point is a bug).
# `autoattack` is the reference AutoAttack (Croce & Hein's own code, packaged on PyPI as
# pyautoattack 0.2.0, whose attack files are the original's): the 'standard' chain APGD-CE,
# APGD-T, FAB-T, Square with the settings of its AutoAttack class, each attack on the images
# the earlier ones left robust. (torchattacks' AutoAttack is not the reference: it runs APGD and
# FAB with 10 iterations, not 100.)
# Prints one JSON object. Run through benchmarks/independent_attack.sh, which
# installs what it needs.
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", required=True, help="rampart checkpoint.h5")
    p.add_argument("--data", default="data/test.h5", help="rampart dataset (HDF5)")
    p.add_argument("--limit", type=int, default=1000, help="first N test images (0: all)")
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attacks", default="pgd20,pgd50x3,apgd-ce,apgd-dlr",
                   help="comma list of pgd20, pgd50x3, apgd-ce, apgd-dlr, autoattack")
    p.add_argument("--norm", default="Linf", choices=["Linf", "L2"], help="threat model of autoattack")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--per-example", help="also write each image's results here (.npz): index, label, "
                   "clean_correct, <attack>_correct, and for autoattack each attack of its chain")
    return p.parse_args()


def main():
    a = parse()
    import h5py
    import numpy as np
    import torch
    import torchattacks

    torch.set_num_threads(a.threads)
    # The checkpoint in its standard PyTorch definition (zoo models) or rebuilt layer by layer,
    # loaded with load_state_dict(strict=True), in eval mode (batchnorm's running statistics).
    model, arch = torch_models.from_checkpoint(torch, a.checkpoint)
    for p in model.parameters():
        p.requires_grad_(False)
    with h5py.File(a.data, "r") as f:
        n = f["images"].shape[0] if a.limit <= 0 else min(a.limit, f["images"].shape[0])
        x_all = torch.from_numpy(f["images"][:n].astype(np.float32) / 255.0)
        y_all = torch.from_numpy(f["labels"][:n].astype(np.int64))

    eps = a.eps
    names = [s for s in a.attacks.split(",") if s]
    makers = {
        "pgd20": lambda: [torchattacks.PGD(model, eps=eps, alpha=0.01, steps=20, random_start=True)],
        "pgd50x3": lambda: [torchattacks.PGD(model, eps=eps, alpha=eps / 4, steps=50, random_start=True)
                            for _ in range(3)],
        "apgd-ce": lambda: [torchattacks.APGD(model, norm="Linf", eps=eps, steps=100, n_restarts=1, loss="ce",
                                              seed=a.seed)],
        "apgd-dlr": lambda: [torchattacks.APGD(model, norm="Linf", eps=eps, steps=100, n_restarts=1, loss="dlr",
                                               seed=a.seed)],
    }
    chain = ["apgd-ce", "apgd-t", "fab-t", "square"]

    def autoattack(x, y, ok):
        """The reference's run_standard_evaluation for one batch: ok (clean-correct) is narrowed
        by each attack in turn; returns the flags after each."""
        from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted
        from pyautoattack.fab_pt import FABAttack_PT
        from pyautoattack.square import SquareAttack
        common = dict(norm=a.norm, eps=eps, seed=a.seed, device="cpu")
        apgd = APGDAttack(model, n_restarts=1, n_iter=100, eot_iter=1, rho=.75, loss="ce", **common)
        apgd_t = APGDAttack_targeted(model, n_restarts=1, n_iter=100, eot_iter=1, rho=.75, **common)
        apgd_t.n_target_classes = 9
        fab = FABAttack_PT(model, n_restarts=1, n_iter=100, **common)
        fab.targeted = True
        fab.n_target_classes = 9
        square = SquareAttack(model, p_init=.8, n_queries=5000, n_restarts=1, resc_schedule=False, **common)
        flags = []
        for name, atk in zip(chain, [apgd, apgd_t, fab, square]):
            idx = ok.nonzero().squeeze(1)
            if len(idx) > 0:
                x_adv = atk.perturb(x[idx], y[idx])
                d = (x_adv - x[idx]).reshape(len(idx), -1)
                dist = d.abs().max(1)[0] if a.norm == "Linf" else d.norm(dim=1)
                if dist.max() > eps + 1e-5 or x_adv.min() < 0 or x_adv.max() > 1:
                    raise SystemExit(f"independent_attack.py: {name} left the eps-ball or [0, 1]")
                with torch.no_grad():
                    ok = ok.clone()
                    ok[idx] = model(x_adv).argmax(1) == y[idx]
            flags.append(ok.clone())
        return flags

    makers["autoattack"] = None
    for s in names:
        if s not in makers:
            raise SystemExit(f"independent_attack.py: unknown attack {s!r} (expected {', '.join(makers)})")
    torch.manual_seed(a.seed)

    clean_ok = torch.zeros(n, dtype=torch.bool)
    robust = {s: torch.zeros(n, dtype=torch.bool) for s in names}
    seconds = {s: 0.0 for s in names}
    parts = {c: torch.zeros(n, dtype=torch.bool) for c in chain}
    for b in range(0, n, a.batch):
        x, y = x_all[b:b + a.batch], y_all[b:b + a.batch]
        with torch.no_grad():
            clean_ok[b:b + len(y)] = model(x).argmax(1) == y
        for s in names:
            t = time.perf_counter()
            ok = clean_ok[b:b + len(y)].clone()
            if s == "autoattack":
                flags = autoattack(x, y, ok)
                for c, f in zip(chain, flags):
                    parts[c][b:b + len(y)] = f
                robust[s][b:b + len(y)] = flags[-1]
                seconds[s] += time.perf_counter() - t
                continue
            for atk in makers[s]():  # restarts: an example counts as robust only if every one fails
                x_adv = atk(x, y)
                if (x_adv - x).abs().max() > eps + 1e-6 or x_adv.min() < 0 or x_adv.max() > 1:
                    raise SystemExit(f"independent_attack.py: {s} left the eps-ball or [0, 1]")
                with torch.no_grad():
                    ok &= model(x_adv).argmax(1) == y
            robust[s][b:b + len(y)] = ok
            seconds[s] += time.perf_counter() - t
    worst = clean_ok.clone()
    for s in names:
        worst &= robust[s]
    out = {"checkpoint": a.checkpoint, "model": arch, "images": n, "eps": eps, "torch": torch.__version__,
           "torchattacks": torchattacks.__version__, "clean_accuracy": clean_ok.float().mean().item(),
           "robust_accuracy": {s: robust[s].float().mean().item() for s in names},
           "worst_case_accuracy": worst.float().mean().item(), "seconds": seconds}
    if "autoattack" in names:
        import pyautoattack
        out["pyautoattack"] = pyautoattack.__version__
        out["norm"] = a.norm
        out["autoattack_chain"] = {c: parts[c].float().mean().item() for c in chain}
    if a.per_example:
        cols = {"index": np.arange(n), "label": y_all.numpy(), "clean_correct": clean_ok.numpy().astype(np.uint8)}
        for s in names:
            cols[f"{s}_correct"] = robust[s].numpy().astype(np.uint8)
        if "autoattack" in names:
            for c in chain:
                cols[f"{c}_correct"] = parts[c].numpy().astype(np.uint8)
        np.savez(a.per_example, **cols)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
