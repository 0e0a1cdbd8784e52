#!/usr/bin/python3
"""Robust accuracy (PGD-20 filled, PGD-50x3 hollow, AutoAttack crosses) against money spent, one point per run, from budget_evidence.json.

usage: plot_budget.py budget_evidence.json out.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src, dst):
    d = json.load(open(src))
    fig, ax = plt.subplots(figsize=(9.2, 4.4))
    policies = []
    for r in d["runs"]:
        if r["policy"] not in policies:
            policies.append(r["policy"])
    for i, p in enumerate(policies):
        runs = [r for r in d["runs"] if r["policy"] == p]
        color = f"C{i}"
        marker = "*" if p == "budgeted" else "o"
        xs = [r["spent_usd"] or 0.0 for r in runs]
        ax.scatter(xs, [100 * r["pgd20_accuracy"] for r in runs], s=60, color=color, marker=marker, zorder=3,
                   label=f"{p}: PGD-20 ({len(runs)} seeds)")
        ax.scatter(xs, [100 * r["strong_accuracy"] for r in runs], s=40, facecolors="none", edgecolors=color,
                   marker=marker, zorder=3, label=f"{p}: PGD-50x3, first {runs[0].get('strong_n', '')} images")
        aa = [(x, r["autoattack_accuracy"]) for x, r in zip(xs, runs) if r.get("autoattack_accuracy") is not None]
        if aa:
            ax.scatter([x for x, _ in aa], [100 * a for _, a in aa], s=40, color=color, marker="x", zorder=3,
                       label=f"{p}: AutoAttack, first {runs[0].get('autoattack_n', '')} images")
    ax.axvline(d["budget_usd"], color="grey", linestyle="--", linewidth=1, label=f"budget ${d['budget_usd']:.3f}")
    ax.set_xlabel(f"money spent, USD (at ${d['price_usd_per_rank_hour']}/rank-hour, measured wall time)")
    ax.set_ylabel("robust accuracy, %")
    ax.set_title(f"Robust accuracy per money: {d['workload']}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    fig.tight_layout()
    fig.savefig(dst, dpi=120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
