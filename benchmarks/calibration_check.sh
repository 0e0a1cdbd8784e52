#!/usr/bin/env bash
# How honest the first plan is: train one epoch of fixed PGD-K with carried perturbations
# (Fashion-MNIST, small-cnn, checkpoint per epoch) REPEATS times and compare the first
# epoch's measured cost (its data, steps and checkpoint: epoch_wall_s in metrics.jsonl) with
#   new  the first plan's row: whole steps timed at two K, the epoch's data load and one real
#        checkpoint write (what the plan predicts now)
#   old  the sum of the passes timed one by one in the same calibration, without data load or
#        checkpoint (what the plan predicted before whole steps and writes were timed)
# and the spend at the end of epoch 1 (set-up included) with the first plan's cumulative.
# Run it on an idle machine: the 1-minute load before and after each run is recorded.
# Writes benchmarks/results/calibration_check.{json,md}; exits non-zero when a run fails
# (and, with STRICT=1, when the new method's median error is above 5%).
#
# usage: benchmarks/calibration_check.sh   (env: BIN, LIMIT (0: all 60000), STEPS, REPEATS, OUT, RUNS,
#        REPORT_ONLY=1: only the table, from the runs already in RUNS)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
LIMIT=${LIMIT:-0}
STEPS=${STEPS:-3}
REPEATS=${REPEATS:-3}
OUT=${OUT:-benchmarks/results}
RUNS=${RUNS:-$(mktemp -d /tmp/calibration_check.XXXXXX)}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT" "$RUNS"
scripts/import-fmnist.sh "$BIN" >&2

for i in $(seq 1 "$REPEATS"); do
  [[ ${REPORT_ONLY:-0} == 1 ]] && break  # the table again from the runs in RUNS
  d="$RUNS/r$i"
  rm -rf "$d"
  load0=$(cut -d' ' -f1 /proc/loadavg)
  echo "== repeat $i (load $load0)" >&2
  "$BIN" train --config configs/fmnist-pgd.ini --data data/train.h5 --test-data data/test.h5 --limit "$LIMIT" \
    --eval-limit 100 --epochs 1 --steps "$STEPS" --schedule fixed --budget-hours 10 --probe-every 0 \
    --attack-init carry --out "$d" --json --log-level warn > "$d.json"
  load1=$(cut -d' ' -f1 /proc/loadavg)
  echo "{\"load_before\": $load0, \"load_after\": $load1, \"cores\": $(nproc)}" > "$d.load"
done

python3 - "$RUNS" "$REPEATS" "$OUT" "$STEPS" "$LIMIT" "${STRICT:-0}" <<'PY'
import json, os, statistics, sys
cores_default = os.cpu_count()
runs, repeats, out, steps_k, limit, strict = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
rows = []
for i in range(1, repeats + 1):
    lines = [json.loads(l) for l in open(f"{runs}/r{i}/metrics.jsonl")]
    start = next(l["info"] for l in lines if l.get("event") == "start")
    ep = next(l for l in lines if l.get("event") == "epoch")
    load = json.load(open(f"{runs}/r{i}.load"))
    plan = start["plan"]
    c, row, steps = plan["cost_model"]["calibration"], plan["rows"][0], plan["steps_per_epoch"]
    K = row["K"]
    old = steps * (K * (c["fwd_s"] + c["bwd_input_s"] + c["pgd_update_s"]) + c["train_forwards"] * c["fwd_s"]
                   + c["train_backwards"] * c["bwd_full_s"] + c["optimizer_s"] + c["data_s"])
    measured = ep["epoch_wall_s"]
    rows.append({
        "repeat": i, "K": K, "steps": steps, "train_images": start["train_images"],
        "measured_epoch_s": measured, "new_epoch_s": row["wall_s"], "old_epoch_s": old,
        "new_error": row["wall_s"] / measured - 1, "old_error": old / measured - 1,
        "spent_at_epoch1_h": ep["spent_hours"], "planned_at_epoch1_h": ep["planned_hours"],
        "cum_error": ep["planned_hours"] / ep["spent_hours"] - 1,
        "whole_step_s": c["whole_step_attack_s"] * K + c["whole_step_fixed_s"],
        "passes_step_s": old / steps, "measured_step_s": ep["seconds"] / steps,
        "checkpoint_mb": c["checkpoint_bytes"] / 1e6, "checkpoint_write_s": c["checkpoint_write_s"],
        "epoch_load_s": c["epoch_load_s"], **load})

def summary(key):
    v = [r[key] for r in rows]
    return {"median": statistics.median(v), "min": min(v), "max": max(v)}
res = {"what": "first plan vs first epoch, fixed PGD-K with carried perturbations, 1 rank",
       "limit": limit, "K": steps_k, "omp_threads": os.environ.get("OMP_NUM_THREADS"), "runs": rows,
       "new_error": summary("new_error"), "old_error": summary("old_error"), "cum_error": summary("cum_error")}
json.dump(res, open(f"{out}/calibration_check.json", "w"), indent=1)
md = ["# First plan against the first epoch (benchmarks/calibration_check.sh)", "",
      f"Fashion-MNIST ({rows[0]['train_images']} training images), small-cnn, fixed PGD-{rows[0]['K']}, carried perturbations, "
      f"one rank, {res['omp_threads']} threads, {rows[0]['steps']} steps, checkpoint {rows[0]['checkpoint_mb']:.1f} MB. "
      "new: whole steps at two K + epoch data + one timed checkpoint write; old: the passes' sum.", "",
      "| repeat | load before/after (cores) | measured s | new s | new err | old s | old err | cum err (set-up incl.) | step s: measured / whole / passes | checkpoint s |",
      "|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    md.append(f"| {r['repeat']} | {r['load_before']:.2f} / {r['load_after']:.2f} ({r['cores']}) | {r['measured_epoch_s']:.2f} | "
              f"{r['new_epoch_s']:.2f} | {100 * r['new_error']:+.1f}% | {r['old_epoch_s']:.2f} | {100 * r['old_error']:+.1f}% | "
              f"{100 * r['cum_error']:+.1f}% | {r['measured_step_s']:.4f} / {r['whole_step_s']:.4f} / {r['passes_step_s']:.4f} | "
              f"{r['checkpoint_write_s']:.3f} |")
# The runs' own threads raise the load average too (an idle 2-core machine reads about 1-1.5 after
# a repeat), so "busy" is load before the first repeat, or load above the runs' own threads.
threads, cores = int(res["omp_threads"] or cores_default), rows[0]["cores"]
busy = rows[0]["load_before"] >= 0.5 * cores or max(r["load_after"] for r in rows) > threads + 0.5 * cores
if busy:
    md.append(f"\n**The machine was busy** (1-minute load {rows[0]['load_before']:.2f} before the first run, up to "
              f"{max(r['load_after'] for r in rows):.2f} after one, on {cores} cores with {threads} threads of ours): other "
              "jobs' bursts of load fall on the calibration or on the epoch, not both, so these errors measure the load, "
              "not the calibration. Run it on an idle machine.")
else:
    md.append(f"\nThe machine was idle: load {rows[0]['load_before']:.2f} before the first run; later loads are this "
              f"script's own {threads} threads.")
res["busy"] = busy
json.dump(res, open(f"{out}/calibration_check.json", "w"), indent=1)
for k in ("new_error", "old_error", "cum_error"):
    s = res[k]
    md.append(f"\n{k}: median {100 * s['median']:+.1f}% (min {100 * s['min']:+.1f}%, max {100 * s['max']:+.1f}%)")
open(f"{out}/calibration_check.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
if strict and abs(res["new_error"]["median"]) > 0.05:
    sys.exit(1)
PY
