#!/usr/bin/env python3
"""Table and JSON for benchmarks/bench_scaling.sh: one row per world size (median
over rounds, with the range), the all-reduce microbenchmark, the projection."""
import argparse, json, statistics, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", nargs="+", required=True, help="per-run JSON (summary.json + ranks, round)")
    ap.add_argument("--allreduce", default="")
    ap.add_argument("--projection", default="")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    a = ap.parse_args()

    runs = [json.load(open(f)) for f in a.rows]
    by_n = {}
    for r in runs:
        by_n.setdefault(r["ranks"], []).append(r)
    table = []
    base = None
    for n in sorted(by_n):
        rs = by_n[n]
        ips = [r["train_images_per_s"] for r in rs]
        steps = statistics.median(r["steps"] for r in rs)
        ar = statistics.median(r["allreduce_seconds"] / r["steps"] for r in rs)
        ex = statistics.median(r["allreduce_exposed_seconds"] / r["steps"] for r in rs)
        tot_ar = sum(r["allreduce_seconds"] for r in rs)
        tot_ex = sum(r["allreduce_exposed_seconds"] for r in rs)
        attack = statistics.median(r["attack_seconds"] / r["train_seconds"] for r in rs)
        med = statistics.median(ips)
        if base is None:
            base = med
        row = {
            "ranks": n,
            "threads_per_rank": rs[0].get("threads_per_rank"),
            "runs": len(rs),
            "steps": steps,
            "images_per_s_median": med,
            "images_per_s_min": min(ips),
            "images_per_s_max": max(ips),
            "relative_to_1_rank": med / base,
            # 143.7 MFLOP per training image (PROTOCOL.md)
            "gflops": med * 143.7e6 / 1e9,
            "attack_share": attack,
            "allreduce_ms_per_step": ar * 1e3,
            "allreduce_exposed_ms_per_step": ex * 1e3,
            "hidden_fraction": (1 - tot_ex / tot_ar) if tot_ar > 0 else None,
            "runs_detail": [{k: r.get(k) for k in ("round", "train_images_per_s", "train_seconds",
                                                    "allreduce_seconds", "allreduce_exposed_seconds",
                                                    "attack_seconds", "loadavg_after")} for r in rs],
        }
        table.append(row)

    out = {
        "benchmark": "scaling",
        "workload": "FMNIST-PGD7: small-cnn, PGD-7 (eps 0.1, step 0.025), global batch 128, SGD",
        "limit": a.limit,
        "epochs": a.epochs,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "note": "2 shared cores; other work ran at the same time, so throughput is noisy (see loadavg_after)",
        "results": table,
    }
    if a.allreduce:
        out["allreduce"] = json.load(open(a.allreduce))
    if a.projection:
        out["projection"] = json.load(open(a.projection))
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")

    L = []
    L.append("# Scaling benchmark: FMNIST-PGD7 (small-cnn, PGD-7, global batch 128)\n")
    L.append(f"Written by `benchmarks/bench_scaling.sh` on {out['date']}: {a.limit} training images x "
             f"{a.epochs} epoch(s) per run, {len(runs) // max(1, len(by_n))} round(s), configurations alternated; "
             "`mpirun --bind-to none`, no evaluation. The machine has 2 cores, shared with other work "
             "during the runs: the numbers are noisy (load average after each run is in scaling.json).\n")
    L.append("| ranks | threads/rank | images/s (median) | range | vs 1 rank | GFLOP/s | attack share "
             "| all-reduce ms/step | exposed ms/step | hidden behind backward |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in table:
        hid = "—" if r["hidden_fraction"] is None else f"{100 * r['hidden_fraction']:.0f}%"
        L.append(f"| {r['ranks']} | {r['threads_per_rank']} | {r['images_per_s_median']:.0f} | "
                 f"{r['images_per_s_min']:.0f}–{r['images_per_s_max']:.0f} | {r['relative_to_1_rank']:.2f} | "
                 f"{r['gflops']:.0f} | {100 * r['attack_share']:.0f}% | {r['allreduce_ms_per_step']:.2f} | "
                 f"{r['allreduce_exposed_ms_per_step']:.2f} | {hid} |")
    L.append("\nOn this 2-core machine, 2 ranks of 1 thread use the same cores as 1 rank of 2 threads: "
             "\"vs 1 rank\" compares data parallelism across processes with threads in one process, not "
             "more hardware. hidden = 1 - exposed / total all-reduce time (summed over runs), where total is "
             "each bucket's start to observed completion (an upper bound) and exposed is what the step waited "
             "after backward. A rank of 2 OpenMP threads is hit hardest when other processes compete for the 2 cores "
             "(its threads wait for each other at every parallel region, and a descheduled thread stalls both); "
             "ranks of 1 thread are not. Under load the 1-rank figure is therefore far below its idle-machine "
             "value: compare 1 and 2 ranks on an idle machine.\n")
    if a.allreduce:
        ar = out["allreduce"]
        L.append(f"## All-reduce alone (`bench_allreduce`, {ar['ranks']} ranks, {ar['backend']})\n")
        L.append("| bytes | median µs | p10–p90 µs | bus GB/s |")
        L.append("|---|---|---|---|")
        for r in ar["results"]:
            L.append(f"| {r['bytes']} | {r['median_s'] * 1e6:.0f} | {r['p10_s'] * 1e6:.0f}–{r['p90_s'] * 1e6:.0f} | "
                     f"{r['bus_bandwidth_GBps']:.2f} |")
        fit = ar["fit"]
        L.append(f"\nFit: t = {fit['alpha_s'] * 1e6:.1f} µs + bytes / ({fit['bandwidth_GBps']:.2f} GB/s). "
                 "small-cnn's gradients are 1.69 MB (421,642 floats).\n")
    if a.projection:
        p = out["projection"]
        L.append("## Projection to 64 ranks (`cluster/schedule/cost_model.h` `scaling_efficiency`, weak scaling)\n")
        L.append(f"From the median 2-rank run: {p['compute_s_per_step'] * 1e3:.0f} ms of compute per step and "
                 f"rank (local batch {p['local_batch']}, 1 thread; {p['attack_s_per_step'] * 1e3:.0f} ms of it the "
                 f"PGD-7 attack), all-reduce {p['allreduce_s_per_step_2ranks'] * 1e3:.2f} ms per step, "
                 f"{100 * p['overlap_fraction']:.0f}% hidden behind backward. Every rank keeps that local batch "
                 "and that compute; the 1-rank run (2 threads) is not used, as it suffered most from the "
                 "other work on the machine.\n")
        worlds = [pt["ranks"] for pt in p["networks"][0]["points"]]
        L.append("| all-reduce model | " + " | ".join(f"{w} ranks" for w in worlds) + " |")
        L.append("|---|" + "---|" * len(worlds))
        for net in p["networks"]:
            L.append(f"| {net['network']} | " + " | ".join(f"{100 * pt['efficiency']:.1f}%" for pt in net["points"]) + " |")
        L.append("\nA faster rank (a GPU) shrinks the compute and so raises the share of communication; "
                 "these figures hold for ranks as fast as the one measured here.\n")
    with open(a.md, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
