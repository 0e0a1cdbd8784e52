#!/usr/bin/env bash
# Robust accuracy per money: at one budget (in USD at a stated price per rank-hour, wall cost
# measured on this machine), train the reference workload (Fashion-MNIST, small-cnn, eps 0.1,
# 5 epochs requested) with
#   budgeted   the attack-budget scheduler (eps curriculum, FGSM-RS -> PGD-K ramp, guard on)
#   fixed-pgdK fixed PGD-K with the largest K whose 5 epochs fit the budget as `rampart plan`
#              predicts it, and with K-1 in case the measured cost cuts K's run short
#   fixed-pgd7 the reference PGD-7, cut by the budget where it does not fit
#   fgsm-rs    fixed FGSM with random start (Wong et al. 2020), 5 epochs
#   adaptive   (RUN_ADAPTIVE=1) budgeted plus the measured control signal that adds or removes steps
# once per seed in SEEDS, and evaluate PGD-20 (eps 0.1, step 0.01, 1 restart) on the first
# EVAL_LIMIT test images, plus a stronger attack (PGD-50, step eps/4, 3 restarts) on the first
# STRONG_LIMIT, so that a policy cannot win by being merely hard to attack with PGD-20.
# budgeted carries each example's perturbation to its next epoch (--attack-init carry, its
# default); the fixed baselines start every attack at a random point, as Madry's PGD-K does.
# Writes benchmarks/results/budget_evidence.{json,md,png}.
#
# usage: benchmarks/budget_evidence.sh
#   (env: BIN, LIMIT, EVAL_LIMIT, STRONG_LIMIT, SEEDS, PRICE, BUDGET_USD, EPOCHS_OF_PGD7, RUN_PGD7, RUN_ADAPTIVE,
#    FIXED_KS: the fixed K to run (default: K and K-1), KEEP=1: reuse runs already in RUNS)
# BUDGET_USD defaults to the calibrated cost of EPOCHS_OF_PGD7 (3) epochs of PGD-7 plus the final
# evaluation, as `rampart plan` predicts it on this machine at the start of the script.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
LIMIT=${LIMIT:-5000}          # training images (0: all 60000); the guard holds 256 of them out
EVAL_LIMIT=${EVAL_LIMIT:-1000}
STRONG_LIMIT=${STRONG_LIMIT:-1000}
SEEDS=${SEEDS:-0}
PRICE=${PRICE:-2.5}            # USD per rank-hour (the price of a GPU-hour, on CPU ranks)
EPOCHS_OF_PGD7=${EPOCHS_OF_PGD7:-3}
OUT=${OUT:-benchmarks/results}
RUNS=${RUNS:-$(mktemp -d /tmp/budget_evidence.XXXXXX)}
mkdir -p "$RUNS"
RUN_PGD7=${RUN_PGD7:-0}   # 1: also the reference PGD-7, cut by the budget
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

scripts/import-fmnist.sh "$BIN"
common=(--config configs/fmnist-pgd.ini --data data/train.h5 --test-data data/test.h5 --limit "$LIMIT"
        --eval-limit "$EVAL_LIMIT" --price-per-gpu-hour "$PRICE" --log-every 100 --log-level warn)
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# One calibration (rampart plan, fixed PGD-7, no budget) fixes both the budget and the largest
# fixed K: an epoch's cost is affine in K with slope steps * (one attack step, whole steps timed).
"$BIN" plan "${common[@]}" --schedule fixed --steps 7 --out "$RUNS" --json > "$RUNS/plan_pgd7.plan"
BUDGET_USD=${BUDGET_USD:-$(jget "round($EPOCHS_OF_PGD7 * d['rows'][0]['usd'] + d['reserve']['usd'], 6)" < "$RUNS/plan_pgd7.plan")}
KFIT=$(python3 - "$RUNS/plan_pgd7.plan" "$BUDGET_USD" "$PRICE" <<'PY'
import json, sys
d, budget, price = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3])
c = d["calibration"]
# An attack step's share of an epoch: the whole-step fit's slope (the plan's own), else the passes'.
unit = d["steps_per_epoch"] * (c.get("whole_step_attack_s") or (c["fwd_s"] + c["bwd_input_s"]))
e7, reserve = d["rows"][0]["wall_s"], d["reserve"]["wall_s"]
allow = (budget / price * 3600 - reserve) * 0.90  # the plan's 5% safety, and 5% for measured costs above the calibration
fits = [k for k in range(1, 11) if 5 * (e7 + (k - 7) * unit) <= allow]
print(max(fits) if fits else 1)
PY
)
echo "budget: \$$BUDGET_USD at \$$PRICE per rank-hour ($(python3 -c "print(round($BUDGET_USD / $PRICE * 3600, 1))") s on 1 rank)" >&2
echo "largest fixed K whose 5 epochs fit: $KFIT" >&2
budget=(--budget-usd "$BUDGET_USD")
FIXED_KS=${FIXED_KS:-$KFIT $((KFIT > 1 ? KFIT - 1 : 1))}

run() {  # name, seed, then extra flags
  local name=$1 seed=$2; shift 2
  local tag="$name-s$seed" t0 t1
  if [[ "${KEEP:-0}" == 1 && -s "$RUNS/$tag.json" ]]; then
    echo "== $tag: kept" >&2
  else
    echo "== $tag: $*" >&2
    t0=$(date +%s.%N)
    "$BIN" train "${common[@]}" "${budget[@]}" --seed "$seed" --out "$RUNS/$tag" --json "$@" > "$RUNS/$tag.json"
    t1=$(date +%s.%N)
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['_process_wall_s']=float(sys.argv[3])-float(sys.argv[2]); json.dump(d, open(sys.argv[1],'w'))" \
      "$RUNS/$tag.json" "$t0" "$t1"
  fi
  # After training, not charged to the budget: a stronger attack, and PGD-20 on the same images.
  [[ -s "$RUNS/$tag.strong" ]] || "$BIN" eval --checkpoint "$RUNS/$tag/checkpoint.h5" --data data/test.h5 --attack pgd \
    --eps 0.1 --steps 50 --alpha 0.025 --restarts 3 --limit "$STRONG_LIMIT" --json > "$RUNS/$tag.strong"
  [[ -s "$RUNS/$tag.pgd20sub" ]] || "$BIN" eval --checkpoint "$RUNS/$tag/checkpoint.h5" --data data/test.h5 --attack pgd \
    --eps 0.1 --steps 20 --alpha 0.01 --restarts 1 --limit "$STRONG_LIMIT" --json > "$RUNS/$tag.pgd20sub"
  python3 - "$RUNS/$tag.json" "$name" "$seed" "$*" "$RUNS/$tag.strong" "$RUNS/$tag.pgd20sub" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
strong, sub = json.load(open(sys.argv[5])), json.load(open(sys.argv[6]))
s = d.get("schedule", {})
d["_name"], d["_seed"], d["_flags"] = sys.argv[2], int(sys.argv[3]), sys.argv[4]
d["_strong"] = {"attack": "PGD-50, step 0.025, 3 restarts", "n": strong["n"], "accuracy": strong["robust_accuracy"],
                "pgd20_same_images": sub["robust_accuracy"]}
json.dump(d, open(sys.argv[1], "w"))
print(f"   {sys.argv[2]} seed {sys.argv[3]}: PGD-20 {d['pgd_accuracy']:.4f}; first {strong['n']}: PGD-20 "
      f"{sub['robust_accuracy']:.4f}, PGD-50x3 {strong['robust_accuracy']:.4f}; clean {d['clean_accuracy']:.4f} "
      f"spent ${d.get('spent_usd', 0):.4f} epochs {s.get('epochs_run')} stop {s.get('stop_reason')}", file=sys.stderr)
PY
}
# Policies alternate within each seed, so that a drift in machine load hits them alike.
for seed in $SEEDS; do
  run budgeted "$seed" --schedule budgeted
  if [[ "${RUN_ADAPTIVE:-0}" == 1 ]]; then run adaptive "$seed" --schedule adaptive; fi
  for k in $(echo "$FIXED_KS" | tr ' ' '\n' | sort -u); do
    run "fixed-pgd$k" "$seed" --schedule fixed --steps "$k" --alpha "$(python3 -c "print(2.5 * 0.1 / $k)")"
  done
  if [[ "$KFIT" != 7 && "$RUN_PGD7" == 1 ]]; then run fixed-pgd7 "$seed" --schedule fixed --steps 7; fi
  run fgsm-rs "$seed" --schedule fixed --attack fgsm-rs
done

mkdir -p "$OUT"
python3 - "$RUNS" "$OUT" "$BUDGET_USD" "$PRICE" "$LIMIT" "$EVAL_LIMIT" "$KFIT" "$STRONG_LIMIT" <<'PY'
import glob, json, os, platform, statistics, sys, time
runs, out, budget, price, limit, eval_limit, kfit, strong_limit = sys.argv[1:9]
rows = []
for f in sorted(glob.glob(os.path.join(runs, "*.json"))):
    d = json.load(open(f))
    s = d.get("schedule", {})
    rows.append({
        "policy": d["_name"], "seed": d["_seed"], "flags": d["_flags"],
        "pgd20_accuracy": d["pgd_accuracy"], "fgsm_accuracy": d.get("fgsm_accuracy"),
        "strong_accuracy": d["_strong"]["accuracy"], "strong_attack": d["_strong"]["attack"], "strong_n": d["_strong"]["n"],
        "pgd20_strong_images": d["_strong"]["pgd20_same_images"],
        "clean_accuracy": d["clean_accuracy"],
        "spent_usd": d.get("spent_usd"), "spent_gpu_hours": d.get("spent_gpu_hours"),
        "wall_seconds": d["wall_seconds"], "process_wall_seconds": d.get("_process_wall_s"),
        "epochs_completed": s.get("epochs_completed"), "epochs_run": s.get("epochs_run", s.get("epochs_completed")),
        "steps": d["steps"], "stop_reason": s.get("stop_reason"),
        "within_budget": s.get("within_budget"), "decisions": s.get("decisions"),
        "rollbacks": s.get("rollbacks"), "train_images_per_s": d["train_images_per_s"],
        "eval_n": d.get("n")})
order = {"budgeted": 0, "adaptive": 1}
rows.sort(key=lambda r: (order.get(r["policy"], 2), r["policy"], r["seed"]))
policies = []
for r in rows:
    if r["policy"] not in policies:
        policies.append(r["policy"])
def agg(pol, key):
    v = [r[key] for r in rows if r["policy"] == pol and r[key] is not None]
    return {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}
summary = {p: {k: agg(p, k) for k in ("pgd20_accuracy", "strong_accuracy", "pgd20_strong_images", "clean_accuracy",
                                      "spent_usd")}
           for p in policies}
with open("/proc/loadavg") as fh:
    load = fh.read().split()[:3]
res = {"workload": "Fashion-MNIST small-cnn, eps 0.1, 5 epochs requested, batch 128, 1 rank (CPU, 2 threads)",
       "train_images": int(limit) or 60000, "eval": f"PGD-20 (step 0.01, 1 restart) on the first {eval_limit} test images",
       "budget_usd": float(budget), "price_usd_per_rank_hour": float(price), "largest_fixed_k_that_fits": int(kfit),
       "strong_eval": f"PGD-50 (step 0.025, 3 restarts) on the first {strong_limit} test images",
       "machine_load_at_end": load, "date": time.strftime("%Y-%m-%d %H:%M"), "host": platform.node(),
       "summary": summary, "runs": rows}
json.dump(res, open(os.path.join(out, "budget_evidence.json"), "w"), indent=1)
lines = [f"# Robust accuracy per money (budget ${float(budget):.4f} at ${price}/rank-hour)", "",
         f"{res['workload']}; {res['train_images']} training images; {res['eval']}; "
         f"{res['strong_eval']}.", "",
         f"| policy | runs | PGD-20 (mean ± s.d.) | PGD-20, first {strong_limit} | PGD-50x3, first {strong_limit} | clean | spent USD |",
         "|---|---|---|---|---|---|---|"]
for p in policies:
    m = summary[p]
    f = lambda k: f"{100 * m[k]['mean']:.2f} ± {100 * m[k]['sd']:.2f}%"
    lines.append(f"| {p} | {m['pgd20_accuracy']['n']} | {f('pgd20_accuracy')} | {f('pgd20_strong_images')} | {f('strong_accuracy')} | "
                 f"{f('clean_accuracy')} | {m['spent_usd']['mean']:.4f} |")
lines += ["", "Every run:", "",
          "| policy | seed | PGD-20 | PGD-50x3 | FGSM | clean | spent USD | wall s | epochs | stop | K per epoch |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    ks = " ".join(str(d[2]) for d in (r["decisions"] or []))
    lines.append(f"| {r['policy']} | {r['seed']} | {r['pgd20_accuracy']:.4f} | {r['strong_accuracy']:.4f} | "
                 f"{r['fgsm_accuracy']:.4f} | {r['clean_accuracy']:.4f} | "
                 f"{(r['spent_usd'] or 0):.4f} | {r['wall_seconds']:.0f} | {r['epochs_run']:.2f} | {r['stop_reason']} | {ks} |")
se = 100 * (0.25 / int(eval_limit)) ** 0.5
lines += ["", f"Load average at the end: {' '.join(load)} (2 cores, shared: timings are noisy).",
          f"Sampling error of one accuracy on {eval_limit} images: about +-{se:.1f} points (1 s.d.); smaller gaps are not evidence.",
          f"Command: `LIMIT={limit} EVAL_LIMIT={eval_limit} SEEDS=\"{' '.join(sorted({str(r['seed']) for r in rows}))}\" benchmarks/budget_evidence.sh`."]
open(os.path.join(out, "budget_evidence.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
/usr/bin/python3 benchmarks/plot_budget.py "$OUT/budget_evidence.json" "$OUT/budget_evidence.png"
