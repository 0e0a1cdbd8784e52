#!/usr/bin/env bash
# Robust accuracy per money: at one budget (in USD at a stated price per rank-hour, wall cost
# measured on this machine), train the reference workload (Fashion-MNIST, small-cnn, eps 0.1; or
# any other through CONFIG, TRAIN, TEST, EPS and TRAIN_ARGS, e.g. a zoo network: see the README)
# with
#   budgeted    the attack-budget scheduler (eps curriculum, FGSM-RS -> PGD-K ramp, guard on), the
#               epochs of BUDGET_OF (5) requested, carrying each example's perturbation to its next epoch (its default)
#   fixed-pgdK  fixed PGD-K (step 2.5 eps / K, random start, as Madry's PGD-K) for E_K epochs, E_K (at
#               least 3) the epochs whose predicted cost comes nearest to the budget; the NFIXED K whose
#               E_K come nearest (within 1 - FILL, 5%, when any do; FIXED_KS="K:E ..." overrides) are
#               run without a budget flag, so that the trainer does not cut them an epoch short, and
#               each run's measured spend is reported against the budget
#   fgsm-rs     fixed FGSM with random start (Wong et al. 2020), its epochs chosen the same way, no budget flag
#   adaptive    (RUN_ADAPTIVE=1) budgeted plus the measured control signal that adds or removes steps
# once per seed in SEEDS. After training (not charged): PGD-20 (step eps/10) on the first
# EVAL_LIMIT test images; PGD-50 (step eps/4, 3 restarts) and PGD-20 on the first STRONG_LIMIT; and
# AutoAttack (standard) on the first AA_LIMIT for the policies in AA_POLICIES, so that no policy can
# win by being merely hard to attack with PGD-20. The report pairs every policy with budgeted on
# the same seed (mean difference, its s.d., and how many seeds each side won).
# Writes OUT/PREFIX.{json,md,png} (benchmarks/results/budget_evidence.*).
#
# usage: benchmarks/budget_evidence.sh
#   env: BIN, CONFIG, TRAIN, TEST (HDF5 made by rampart data import), EPS, TRAIN_ARGS (more flags
#        for train and plan), LABEL (the workload's name in the report), LIMIT, EVAL_LIMIT, STRONG_LIMIT, AA_LIMIT (0: no AutoAttack), AA_POLICIES, SEEDS, PRICE,
#        BUDGET_USD, BUDGET_OF, NFIXED, FILL, FIXED_KS, THREADS (per run), RUN_ADAPTIVE, RUNS,
#        KEEP=1: reuse the runs already in RUNS,
#        AA_ONLY=1: only evaluate AutoAttack on the finished runs in RUNS that lack it, then exit
#        (a second process can do this beside the training on another core)
# BUDGET_USD defaults to the calibrated cost of BUDGET_OF (3:5, PGD-3 for 5 epochs) plus the final
# evaluation, over 0.97, as `rampart plan` predicts it on this machine at the start of the script.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
LIMIT=${LIMIT:-5000}          # training images (0: all 60000); the guard holds 256 of them out
EVAL_LIMIT=${EVAL_LIMIT:-1000}
STRONG_LIMIT=${STRONG_LIMIT:-1000}
SEEDS=${SEEDS:-0}
PRICE=${PRICE:-2.5}            # USD per rank-hour (the price of a GPU-hour, on CPU ranks)
OUT=${OUT:-benchmarks/results}
PREFIX=${PREFIX:-budget_evidence}  # OUT/PREFIX.{json,md,png}
RUNS=${RUNS:-$(mktemp -d /tmp/budget_evidence.XXXXXX)}
mkdir -p "$RUNS"
CONFIG=${CONFIG:-configs/fmnist-pgd.ini}
TRAIN=${TRAIN:-data/train.h5}
TEST=${TEST:-data/test.h5}
EPS=${EPS:-0.1}
TRAIN_ARGS=${TRAIN_ARGS:-}
LABEL=${LABEL:-Fashion-MNIST small-cnn, batch 128}
AA_LIMIT=${AA_LIMIT:-500}
AA_POLICIES=${AA_POLICIES:-budgeted fixed-pgd*}
NFIXED=${NFIXED:-2}
FILL=${FILL:-0.95}
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS

# AutoAttack on one finished run (not charged to its budget).
autoattack() {  # tag
  local tag=$1 p
  [[ "$AA_LIMIT" -gt 0 && ! -s "$RUNS/$tag.aa" ]] || return 0
  for p in $AA_POLICIES; do
    # shellcheck disable=SC2053
    if [[ "${tag%-s*}" == $p ]]; then
      "$BIN" eval --checkpoint "$RUNS/$tag/checkpoint.h5" --data "$TEST" --attack autoattack --eps "$EPS" \
        --limit "$AA_LIMIT" --threads "$THREADS" --json > "$RUNS/$tag.aa.tmp"
      mv "$RUNS/$tag.aa.tmp" "$RUNS/$tag.aa"
      echo "   $tag: AutoAttack $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['autoattack_accuracy'])" "$RUNS/$tag.aa") on the first $AA_LIMIT" >&2
      return 0
    fi
  done
}
if [[ "${AA_ONLY:-0}" == 1 ]]; then
  for f in "$RUNS"/*.json; do
    [[ -e "$f" ]] || continue
    tag=$(basename "$f" .json)
    [[ -s "$RUNS/$tag.strong" ]] && autoattack "$tag"  # a run is finished once its strong eval is written
  done
  exit 0
fi

[[ "$TRAIN $TEST" == "data/train.h5 data/test.h5" ]] && scripts/import-fmnist.sh "$BIN"
for f in "$TRAIN" "$TEST"; do
  [[ -f "$f" ]] || { echo "budget_evidence: $f not found (make it with rampart data import)" >&2; exit 66; }
done
# shellcheck disable=SC2206
common=(--config "$CONFIG" --data "$TRAIN" --test-data "$TEST" --eps "$EPS" $TRAIN_ARGS --limit "$LIMIT"
        --eval-limit "$EVAL_LIMIT" --price-per-gpu-hour "$PRICE" --log-every 100 --log-level warn
        --threads "$THREADS")
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# One calibration (rampart plan, fixed PGD-7, no budget) fixes both the budget and the largest
# fixed K: an epoch's cost is affine in K with slope steps * (one attack step, whole steps timed).
"$BIN" plan "${common[@]}" --schedule fixed --steps 7 --out "$RUNS" --json > "$RUNS/plan_pgd7.plan"
# The budget: what BUDGET_OF (K:epochs, default 3:5: the 5 epochs requested, at the K the older
# table found best) costs by this calibration, over 0.97, so that this baseline fills it measurably
# (the plan is within 3% of a measured epoch: benchmarks/results/calibration_check.md).
BUDGET_OF=${BUDGET_OF:-3:5}
BUDGET_USD=${BUDGET_USD:-$(jget "round(((${BUDGET_OF#*:}) * (d['rows'][0]['wall_s'] + (${BUDGET_OF%:*} - 7) * d['steps_per_epoch'] * d['calibration']['whole_step_attack_s']) + d['reserve']['wall_s']) / 0.97 / 3600 * $PRICE, 6)" < "$RUNS/plan_pgd7.plan")}
# Each fixed K gets the most epochs whose predicted cost fits the budget; the K whose epochs fill
# it best are the baselines. An epoch's cost is affine in K with slope steps * (one attack step,
# whole steps timed); FGSM-RS costs what K = 1 does.
PLANNED=$(python3 - "$RUNS/plan_pgd7.plan" "$BUDGET_USD" "$PRICE" "$FILL" "$NFIXED" <<'PY'
import json, sys
d, budget, price, fill, nfixed = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
c = d["calibration"]
unit = d["steps_per_epoch"] * (c.get("whole_step_attack_s") or (c["fwd_s"] + c["bwd_input_s"]))
e7, reserve = d["rows"][0]["wall_s"], d["reserve"]["wall_s"]
total = budget / price * 3600
cands = []
for k in range(2, 11):
    ek = e7 + (k - 7) * unit
    e = round((total - reserve) / ek)
    if 3 <= e <= 20:
        cands.append((k, e, (e * ek + reserve) / total))
# The candidates whose epochs come nearest to the budget (within 1 - FILL of it, when any do).
near = sorted(cands, key=lambda c: abs(c[2] - 1))
best = ([c for c in near if abs(c[2] - 1) <= 1 - fill] or near)[:nfixed]
for k, e, f in best:
    if abs(f - 1) > 1 - fill:
        print(f"warning: fixed PGD-{k} for {e} epochs is predicted to spend {100 * f:.1f}% of the budget", file=sys.stderr)
e1 = e7 - 6 * unit
fgsm = (1, max(1, round((total - reserve) / e1)), 0.0)
print(" ".join(f"{k}:{e}" for k, e, _ in sorted(best, reverse=True)) + f" fgsm:{fgsm[1]}")
for k, e, f in cands:
    print(f"  K {k:2d}: {e:2d} epochs, predicted {100 * f:.1f}% of the budget", file=sys.stderr)
PY
)
echo "budget: \$$BUDGET_USD at \$$PRICE per rank-hour ($(python3 -c "print(round($BUDGET_USD / $PRICE * 3600, 1))") s on 1 rank)" >&2
FIXED_KS=${FIXED_KS:-${PLANNED% fgsm:*}}
FGSM_EPOCHS=${FGSM_EPOCHS:-${PLANNED##*fgsm:}}
echo "fixed baselines (K:epochs): $FIXED_KS; fgsm-rs: $FGSM_EPOCHS epochs" >&2
budget=(--budget-usd "$BUDGET_USD")

run() {  # name, seed, then extra flags
  local name=$1 seed=$2; shift 2
  local tag="$name-s$seed" t0 t1
  if [[ "${KEEP:-0}" == 1 && -s "$RUNS/$tag.json" ]]; then
    echo "== $tag: kept" >&2
  else
    echo "== $tag: $*" >&2
    t0=$(date +%s.%N)
    "$BIN" train "${common[@]}" --seed "$seed" --out "$RUNS/$tag" --json "$@" > "$RUNS/$tag.json"
    t1=$(date +%s.%N)
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['_process_wall_s']=float(sys.argv[3])-float(sys.argv[2]); json.dump(d, open(sys.argv[1],'w'))" \
      "$RUNS/$tag.json" "$t0" "$t1"
  fi
  # After training, not charged to the budget: PGD-20 and a stronger attack on the same images (the
  # strong one last: AA_ONLY takes a run with its .strong file as finished).
  [[ -s "$RUNS/$tag.pgd20sub" ]] || "$BIN" eval --checkpoint "$RUNS/$tag/checkpoint.h5" --data "$TEST" --attack pgd \
    --eps "$EPS" --steps 20 --alpha "$(python3 -c "print($EPS / 10)")" --restarts 1 --limit "$STRONG_LIMIT" --threads "$THREADS" --json > "$RUNS/$tag.pgd20sub"
  [[ -s "$RUNS/$tag.strong" ]] || "$BIN" eval --checkpoint "$RUNS/$tag/checkpoint.h5" --data "$TEST" --attack pgd \
    --eps "$EPS" --steps 50 --alpha "$(python3 -c "print($EPS / 4)")" --restarts 3 --limit "$STRONG_LIMIT" --threads "$THREADS" --json > "$RUNS/$tag.strong"
  python3 - "$RUNS/$tag.json" "$name" "$seed" "$*" "$RUNS/$tag.strong" "$RUNS/$tag.pgd20sub" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
strong, sub = json.load(open(sys.argv[5])), json.load(open(sys.argv[6]))
s = d.get("schedule", {})
d["_name"], d["_seed"], d["_flags"] = sys.argv[2], int(sys.argv[3]), sys.argv[4]
d["_strong"] = {"attack": "PGD-50, step eps/4, 3 restarts", "n": strong["n"], "accuracy": strong["robust_accuracy"],
                "pgd20_same_images": sub["robust_accuracy"]}
json.dump(d, open(sys.argv[1], "w"))
print(f"   {sys.argv[2]} seed {sys.argv[3]}: PGD-20 {d['pgd_accuracy']:.4f}; first {strong['n']}: PGD-20 "
      f"{sub['robust_accuracy']:.4f}, PGD-50x3 {strong['robust_accuracy']:.4f}; clean {d['clean_accuracy']:.4f} "
      f"{3600 * d['rank_hours']:.1f} rank-seconds, epochs {s.get('epochs_run', 'all')} stop {s.get('stop_reason', 'done')}",
      file=sys.stderr)
PY
  autoattack "$tag"
}
# Policies alternate within each seed, so that a drift in machine load hits them alike.
for seed in $SEEDS; do
  # The scheduled policies plan K for the epochs of BUDGET_OF (5), whatever CONFIG says.
  run budgeted "$seed" --schedule budgeted --epochs "${BUDGET_OF#*:}" "${budget[@]}"
  if [[ "${RUN_ADAPTIVE:-0}" == 1 ]]; then run adaptive "$seed" --schedule adaptive --epochs "${BUDGET_OF#*:}" "${budget[@]}"; fi
  for ke in $FIXED_KS; do
    k=${ke%:*}
    run "fixed-pgd$k" "$seed" --schedule fixed --steps "$k" --epochs "${ke#*:}" --alpha "$(python3 -c "print(2.5 * $EPS / $k)")"
  done
  run fgsm-rs "$seed" --schedule fixed --attack fgsm-rs --epochs "$FGSM_EPOCHS"
done

mkdir -p "$OUT"
python3 - "$RUNS" "$OUT" "$BUDGET_USD" "$PRICE" "$LIMIT" "$EVAL_LIMIT" "$STRONG_LIMIT" "$AA_LIMIT" "$THREADS" "$FIXED_KS" "$LABEL" "$EPS" "$TRAIN_ARGS" "$PREFIX" <<'PY'
import glob, json, os, platform, statistics, sys, time
runs, out, budget, price, limit, eval_limit, strong_limit, aa_limit, threads, fixed_ks, label, eps, train_args, prefix = sys.argv[1:15]
budget = float(budget)
rows = []
for f in sorted(glob.glob(os.path.join(runs, "*.json"))):
    d = json.load(open(f))
    if "_name" not in d:
        continue
    s = d.get("schedule", {})
    aa_file = f[:-len(".json")] + ".aa"
    aa = json.load(open(aa_file)) if os.path.exists(aa_file) else None
    rows.append({
        "policy": d["_name"], "seed": d["_seed"], "flags": d["_flags"],
        "pgd20_accuracy": d["pgd_accuracy"], "fgsm_accuracy": d.get("fgsm_accuracy"),
        "strong_accuracy": d["_strong"]["accuracy"], "strong_attack": d["_strong"]["attack"], "strong_n": d["_strong"]["n"],
        "pgd20_strong_images": d["_strong"]["pgd20_same_images"],
        "autoattack_accuracy": aa["autoattack_accuracy"] if aa else None, "autoattack_n": aa["n"] if aa else None,
        "autoattack_clean_accuracy": aa["clean_accuracy"] if aa else None,
        "clean_accuracy": d["clean_accuracy"],
        # Every run's money the same way: its wall time from start to end (set-up, training, final
        # evaluation, checkpoints) times the price; for budgeted runs it equals the scheduler's spend.
        "spent_usd": d["rank_hours"] * float(price), "spent_fraction": d["rank_hours"] * float(price) / budget,
        "spent_gpu_hours": d.get("spent_gpu_hours"),
        "wall_seconds": d["wall_seconds"], "process_wall_seconds": d.get("_process_wall_s"),
        "epochs_requested": d.get("epochs"), "epochs_completed": s.get("epochs_completed"),
        # Runs without a budget are not scheduled: they run the epochs they were given.
        "epochs_run": s.get("epochs_run", s.get("epochs_completed")) or float(d["_flags"].split("--epochs ")[1].split()[0]),
        "steps": d["steps"], "stop_reason": s.get("stop_reason", "done"),
        "within_budget": s.get("within_budget"), "decisions": s.get("decisions"),
        "rollbacks": s.get("rollbacks"), "train_images_per_s": d["train_images_per_s"],
        "eval_n": d.get("n")})
order = {"budgeted": 0, "adaptive": 1}
rows.sort(key=lambda r: (order.get(r["policy"], 2), r["policy"], r["seed"]))
policies = list(dict.fromkeys(r["policy"] for r in rows))
keys = ("pgd20_accuracy", "pgd20_strong_images", "strong_accuracy", "autoattack_accuracy", "clean_accuracy",
        "spent_usd", "spent_fraction")
def agg(pol, key):
    v = [r[key] for r in rows if r["policy"] == pol and r[key] is not None]
    if not v:
        return None
    return {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}
summary = {p: {k: agg(p, k) for k in keys} for p in policies}
# Paired with budgeted on the same seed: budgeted minus the policy, in points.
paired = {}
by = {(r["policy"], r["seed"]): r for r in rows}
for p in policies:
    if p == "budgeted":
        continue
    paired[p] = {}
    for k in ("pgd20_accuracy", "strong_accuracy", "autoattack_accuracy", "clean_accuracy"):
        diffs = [100 * (by[("budgeted", sd)][k] - r[k]) for (q, sd), r in by.items()
                 if q == p and ("budgeted", sd) in by and r[k] is not None and by[("budgeted", sd)][k] is not None]
        if diffs:
            paired[p][k] = {"mean": statistics.mean(diffs), "sd": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                            "n": len(diffs), "budgeted_wins": sum(x > 0 for x in diffs),
                            "ties": sum(x == 0 for x in diffs), "policy_wins": sum(x < 0 for x in diffs)}
with open("/proc/loadavg") as fh:
    load = fh.read().split()[:3]
res = {"workload": f"{label}, eps {eps}, 1 rank (CPU, {threads} threads)",
       "train_images": int(limit) or 60000, "eval": f"PGD-20 (step eps/10, 1 restart) on the first {eval_limit} test images",
       "budget_usd": budget, "price_usd_per_rank_hour": float(price), "fixed_k_epochs": fixed_ks,
       "strong_eval": f"PGD-50 (step eps/4, 3 restarts) on the first {strong_limit} test images",
       "autoattack_eval": f"AutoAttack (standard) on the first {aa_limit} test images",
       "machine_load_at_end": load, "date": time.strftime("%Y-%m-%d %H:%M"), "host": platform.node(),
       "summary": summary, "paired_with_budgeted": paired, "runs": rows}
json.dump(res, open(os.path.join(out, prefix + ".json"), "w"), indent=1)
def ms(m, scale=100, fmt=".2f"):
    return "n/a" if m is None else f"{scale * m['mean']:{fmt}} ± {scale * m['sd']:{fmt}}"
lines = [f"# Robust accuracy per money (budget ${budget:.4f} at ${price}/rank-hour)", "",
         f"{res['workload']}; {res['train_images']} training images; {res['eval']}; {res['strong_eval']}; "
         f"{res['autoattack_eval']}. Fixed baselines (K:epochs, the epochs whose predicted cost is nearest the budget; no budget flag): {fixed_ks}.", "",
         f"| policy | seeds | PGD-20 | PGD-20, first {strong_limit} | PGD-50x3, first {strong_limit} | AutoAttack, first {aa_limit} | clean | spent, % of budget |",
         "|---|---|---|---|---|---|---|---|"]
for p in policies:
    m = summary[p]
    lines.append(f"| {p} | {m['pgd20_accuracy']['n']} | {ms(m['pgd20_accuracy'])} | {ms(m['pgd20_strong_images'])} | "
                 f"{ms(m['strong_accuracy'])} | {ms(m['autoattack_accuracy'])} | {ms(m['clean_accuracy'])} | "
                 f"{ms(m['spent_fraction'], fmt='.1f')} |")
lines += ["", "Budgeted minus each policy on the same seed, in points (mean ± s.d.; seeds budgeted won / tied / lost):", "",
          "| policy | PGD-20 | PGD-50x3 | AutoAttack | clean |", "|---|---|---|---|---|"]
def pc(m):
    return "n/a" if m is None else f"{m['mean']:+.2f} ± {m['sd']:.2f} ({m['budgeted_wins']}/{m['ties']}/{m['policy_wins']})"
for p, m in paired.items():
    lines.append(f"| {p} | {pc(m.get('pgd20_accuracy'))} | {pc(m.get('strong_accuracy'))} | "
                 f"{pc(m.get('autoattack_accuracy'))} | {pc(m.get('clean_accuracy'))} |")
lines += ["", "Every run:", "",
          "| policy | seed | PGD-20 | PGD-50x3 | AutoAttack | clean | spent USD (% of budget) | wall s | epochs | stop | K per epoch |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    ks = " ".join(str(d[2]) for d in (r["decisions"] or []))
    aa = "n/a" if r["autoattack_accuracy"] is None else f"{r['autoattack_accuracy']:.4f}"
    lines.append(f"| {r['policy']} | {r['seed']} | {r['pgd20_accuracy']:.4f} | {r['strong_accuracy']:.4f} | {aa} | "
                 f"{r['clean_accuracy']:.4f} | {(r['spent_usd'] or 0):.4f} ({100 * r['spent_fraction']:.1f}%) | "
                 f"{r['wall_seconds']:.0f} | {r['epochs_run']:.2f} | {r['stop_reason']} | {ks} |")
se = 100 * (0.25 / int(eval_limit)) ** 0.5
seeds = " ".join(sorted({str(r["seed"]) for r in rows}))
lines += ["", f"Load average at the end: {' '.join(load)}.",
          f"Sampling error of one accuracy on {eval_limit} images: about +-{se:.1f} points (1 s.d.); the paired differences "
          "share their images, so their s.d. over seeds is the noise to compare them with.",
          f"Command: `LIMIT={limit} EVAL_LIMIT={eval_limit} STRONG_LIMIT={strong_limit} AA_LIMIT={aa_limit} THREADS={threads} "
          f"BUDGET_USD={budget} SEEDS=\"{seeds}\" " + (f"LABEL=\"{label}\" EPS={eps} TRAIN_ARGS=\"{train_args}\" ... " if train_args else "")
          + "benchmarks/budget_evidence.sh`."]
open(os.path.join(out, prefix + ".md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
/usr/bin/python3 benchmarks/plot_budget.py "$OUT/$PREFIX.json" "$OUT/$PREFIX.png"
