#!/usr/bin/env bash
# Robust accuracy per money: at one budget (in USD at a stated price per rank-hour, wall cost
# measured on this machine), train the reference workload (Fashion-MNIST, small-cnn, eps 0.1,
# 5 epochs requested) with
#   budgeted   the attack-budget scheduler (eps curriculum, FGSM-RS -> PGD-K ramp, guard on)
#   fixed-pgdK fixed PGD-K with the largest K whose 5 epochs fit the budget (rampart plan says)
#   fixed-pgd7 the reference PGD-7, cut by the budget where it does not fit
#   fgsm-rs    fixed FGSM with random start (Wong et al. 2020), 5 epochs
# and evaluate PGD-20 (eps 0.1, step 0.01, 1 restart) on the first EVAL_LIMIT test images.
# Writes benchmarks/results/budget_evidence.{json,md,png}.
#
# usage: benchmarks/budget_evidence.sh   (env: BIN, LIMIT, EVAL_LIMIT, PRICE, BUDGET_USD, EPOCHS_OF_PGD7, RUN_PGD7)
# BUDGET_USD defaults to the calibrated cost of EPOCHS_OF_PGD7 (3) epochs of PGD-7 plus the final
# evaluation, as `rampart plan` predicts it on this machine at the start of the script.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
LIMIT=${LIMIT:-5000}          # training images (0: all 60000); the guard holds 256 of them out
EVAL_LIMIT=${EVAL_LIMIT:-1000}
PRICE=${PRICE:-2.5}            # USD per rank-hour (the price of a GPU-hour, on CPU ranks)
EPOCHS_OF_PGD7=${EPOCHS_OF_PGD7:-3}
OUT=${OUT:-benchmarks/results}
RUNS=${RUNS:-$(mktemp -d /tmp/budget_evidence.XXXXXX)}
mkdir -p "$RUNS"
RUN_PGD7=${RUN_PGD7:-0}   # 1: also the reference PGD-7, cut by the budget
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

if [[ ! -f data/train.h5 || ! -f data/test.h5 ]]; then
  mkdir -p data
  "$BIN" data import --images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
    --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --out data/train.h5
  "$BIN" data import --images /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
    --labels /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz --out data/test.h5
fi
common=(--config configs/fmnist-pgd.ini --data data/train.h5 --test-data data/test.h5 --limit "$LIMIT"
        --eval-limit "$EVAL_LIMIT" --price-per-gpu-hour "$PRICE" --log-every 100 --log-level warn)
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# One calibration (rampart plan, fixed PGD-7, no budget) fixes both the budget and the largest
# fixed K: an epoch's cost is affine in K with slope steps * (forward + input backward).
"$BIN" plan "${common[@]}" --schedule fixed --steps 7 --json > "$RUNS/plan_pgd7.plan"
BUDGET_USD=${BUDGET_USD:-$(jget "round($EPOCHS_OF_PGD7 * d['rows'][0]['usd'] + d['reserve']['usd'], 6)" < "$RUNS/plan_pgd7.plan")}
KFIT=$(python3 - "$RUNS/plan_pgd7.plan" "$BUDGET_USD" "$PRICE" <<'PY'
import json, sys
d, budget, price = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3])
c = d["calibration"]
unit = d["steps_per_epoch"] * (c["fwd_s"] + c["bwd_input_s"])
e7, reserve = d["rows"][0]["wall_s"], d["reserve"]["wall_s"]
allow = (budget / price * 3600 - reserve) * 0.95  # the plan's safety share
fits = [k for k in range(1, 11) if 5 * (e7 + (k - 7) * unit) <= allow]
print(max(fits) if fits else 1)
PY
)
echo "budget: \$$BUDGET_USD at \$$PRICE per rank-hour ($(python3 -c "print(round($BUDGET_USD / $PRICE * 3600, 1))") s on 1 rank)" >&2
echo "largest fixed K whose 5 epochs fit: $KFIT" >&2
budget=(--budget-usd "$BUDGET_USD")

run() {  # name, then extra flags
  local name=$1; shift
  echo "== $name: $*" >&2
  local t0=$(date +%s.%N)
  "$BIN" train "${common[@]}" "${budget[@]}" --out "$RUNS/$name" --json "$@" > "$RUNS/$name.json"
  local t1=$(date +%s.%N)
  python3 - "$RUNS/$name.json" "$name" "$t0" "$t1" "$*" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("schedule", {})
d["_name"], d["_process_wall_s"], d["_flags"] = sys.argv[2], float(sys.argv[4]) - float(sys.argv[3]), sys.argv[5]
json.dump(d, open(sys.argv[1], "w"))
print(f"   {sys.argv[2]}: PGD-20 {d['pgd_accuracy']:.4f} clean {d['clean_accuracy']:.4f} "
      f"spent ${d.get('spent_usd', 0):.4f} epochs {s.get('epochs_completed')} stop {s.get('stop_reason')}", file=sys.stderr)
PY
}
run budgeted --schedule budgeted
run "fixed-pgd$KFIT" --schedule fixed --steps "$KFIT" --alpha "$(python3 -c "print(2.5 * 0.1 / $KFIT)")"
if [[ "$KFIT" != 7 && "$RUN_PGD7" == 1 ]]; then run fixed-pgd7 --schedule fixed --steps 7; fi
run fgsm-rs --schedule fixed --attack fgsm-rs

mkdir -p "$OUT"
python3 - "$RUNS" "$OUT" "$BUDGET_USD" "$PRICE" "$LIMIT" "$EVAL_LIMIT" "$KFIT" <<'PY'
import glob, json, os, platform, sys, time
runs, out, budget, price, limit, eval_limit, kfit = sys.argv[1:8]
rows = []
for f in sorted(glob.glob(os.path.join(runs, "*.json"))):
    d = json.load(open(f))
    s = d.get("schedule", {})
    rows.append({
        "policy": d["_name"], "flags": d["_flags"],
        "pgd20_accuracy": d["pgd_accuracy"], "fgsm_accuracy": d.get("fgsm_accuracy"),
        "clean_accuracy": d["clean_accuracy"],
        "spent_usd": d.get("spent_usd"), "spent_gpu_hours": d.get("spent_gpu_hours"),
        "wall_seconds": d["wall_seconds"], "process_wall_seconds": d["_process_wall_s"],
        "epochs_completed": s.get("epochs_completed"), "steps": d["steps"], "stop_reason": s.get("stop_reason"),
        "within_budget": s.get("within_budget"), "decisions": s.get("decisions"),
        "rollbacks": s.get("rollbacks"), "train_images_per_s": d["train_images_per_s"],
        "eval_n": d.get("n")})
order = {"budgeted": 0}
rows.sort(key=lambda r: (order.get(r["policy"], 1), r["policy"]))
with open("/proc/loadavg") as fh:
    load = fh.read().split()[:3]
res = {"workload": "Fashion-MNIST small-cnn, eps 0.1, 5 epochs requested, batch 128, 1 rank (CPU, 2 threads)",
       "train_images": int(limit) or 60000, "eval": f"PGD-20 (step 0.01, 1 restart) on the first {eval_limit} test images",
       "budget_usd": float(budget), "price_usd_per_rank_hour": float(price), "largest_fixed_k_that_fits": int(kfit),
       "machine_load_at_end": load, "date": time.strftime("%Y-%m-%d %H:%M"), "host": platform.node(), "runs": rows}
json.dump(res, open(os.path.join(out, "budget_evidence.json"), "w"), indent=1)
lines = [f"# Robust accuracy per money (budget ${float(budget):.4f} at ${price}/rank-hour)", "",
         f"{res['workload']}; {res['train_images']} training images; {res['eval']}.", "",
         "| policy | PGD-20 acc | FGSM acc | clean acc | spent USD | wall s | epochs | stop | K per epoch |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    ks = " ".join(str(d[2]) for d in (r["decisions"] or []))
    lines.append(f"| {r['policy']} | {r['pgd20_accuracy']:.4f} | {r['fgsm_accuracy']:.4f} | {r['clean_accuracy']:.4f} | "
                 f"{(r['spent_usd'] or 0):.4f} | {r['wall_seconds']:.0f} | {r['epochs_completed']} | {r['stop_reason']} | {ks} |")
se = 100 * (0.25 / int(eval_limit)) ** 0.5
lines += ["", f"Load average at the end: {' '.join(load)} (2 cores, shared: timings are noisy).",
          f"Sampling error of one accuracy on {eval_limit} images: about +-{se:.1f} points (1 s.d.); smaller gaps are not evidence."]
open(os.path.join(out, "budget_evidence.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
/usr/bin/python3 benchmarks/plot_budget.py "$OUT/budget_evidence.json" "$OUT/budget_evidence.png"
