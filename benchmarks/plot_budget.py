#!/usr/bin/python3
"""Robust (PGD-20) accuracy against money spent, one point per policy, from budget_evidence.json.

usage: plot_budget.py budget_evidence.json out.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src, dst):
    d = json.load(open(src))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in d["runs"]:
        x, y = r["spent_usd"] or 0.0, 100 * r["pgd20_accuracy"]
        ax.scatter([x], [y], s=70, zorder=3, marker="*" if r["policy"] == "budgeted" else "o")
        ax.annotate(f"{r['policy']} ({r['epochs_completed']} ep)", (x, y), textcoords="offset points",
                    xytext=(6, 4), fontsize=9)
    ax.axvline(d["budget_usd"], color="grey", linestyle="--", linewidth=1, label=f"budget ${d['budget_usd']:.3f}")
    ax.set_xlabel(f"money spent, USD (at ${d['price_usd_per_rank_hour']}/rank-hour, measured wall time)")
    ax.set_ylabel("PGD-20 robust accuracy, %")
    ax.set_title("Robust accuracy per money, Fashion-MNIST small-cnn, eps 0.1", fontsize=10)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    fig.savefig(dst, dpi=120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
