#!/usr/bin/env bash
# CE (Madry PGD-AT), TRADES and MART on Fashion-MNIST at about the same cost: the reference
# protocol (configs/fmnist-pgd.ini: small-cnn, PGD-7 at eps 0.1, batch 128) for CE, and for
# TRADES and MART the epochs that cost what CE's 5 do (their steps cost more: TRADES 4
# forwards and 2 backwards besides the attack, MART 3 and 2, against CE's 1 and 1; `rampart
# plan` prices them). Each is then evaluated on the first EVAL images of the test set with
# PGD-20 and with AutoAttack ('standard', rampart eval --attack autoattack).
# Writes benchmarks/results/losses_fmnist.{json,md}.
# usage: benchmarks/losses_fmnist.sh  (env: SEEDS="0", RANKS=2, EVAL=1000, EPOCHS_CE=5,
#        EPOCHS_TRADES=4, EPOCHS_MART=4, RUNS=folder for the runs)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
SEEDS=${SEEDS:-0}
RANKS=${RANKS:-2}
EVAL=${EVAL:-1000}
RUNS=${RUNS:-runs/losses}
OUT=${OUT:-benchmarks/results}
declare -A epochs=([ce]=${EPOCHS_CE:-5} [trades]=${EPOCHS_TRADES:-4} [mart]=${EPOCHS_MART:-4})
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
scripts/import-fmnist.sh "$BIN"
mkdir -p "$RUNS" "$OUT"
mpi=(mpirun -np "$RANKS" --oversubscribe --bind-to none)
for s in $SEEDS; do
  for loss in ce trades mart; do
    run=$RUNS/$loss-seed$s
    if [ ! -f "$run/summary.json" ]; then
      echo "== $loss, seed $s, ${epochs[$loss]} epochs on $RANKS rank(s)" >&2
      "${mpi[@]}" "$BIN" train --config configs/fmnist-pgd.ini --data data/train.h5 --loss "$loss" \
        --epochs "${epochs[$loss]}" --seed "$s" --out "$run" --json --log-level warn >"$run.train.json"
    fi
    # The plan's price of this run (the cost model's, not the loaded machine's wall clock).
    "$BIN" plan --config configs/fmnist-pgd.ini --data data/train.h5 --loss "$loss" --epochs "${epochs[$loss]}" \
      --json >"$run.plan.json" 2>/dev/null || echo '{}' >"$run.plan.json"
    for atk in pgd autoattack; do
      [ -f "$run.$atk.json" ] && continue
      "${mpi[@]}" "$BIN" eval --checkpoint "$run/checkpoint.h5" --data data/test.h5 --attack "$atk" --steps 20 \
        --eps 0.1 --limit "$EVAL" --json >"$run.$atk.json"
    done
  done
done
/usr/bin/python3 - "$RUNS" "$OUT" "$SEEDS" <<'PY'
import json, sys
runs, out, seeds = sys.argv[1], sys.argv[2], sys.argv[3].split()
rows = []
for s in seeds:
    for loss in ["ce", "trades", "mart"]:
        base = f"{runs}/{loss}-seed{s}"
        summ = json.load(open(f"{base}/summary.json"))
        pgd, aa = json.load(open(f"{base}.pgd.json")), json.load(open(f"{base}.autoattack.json"))
        plan = json.load(open(f"{base}.plan.json"))
        rows.append({"loss": loss, "seed": int(s), "epochs": plan.get("epochs_requested"), "steps": summ.get("steps"),
                     "rank_hours_measured": summ.get("rank_hours", summ.get("gpu_hours")),
                     "planned_hours": plan.get("total_hours"),
                     "clean": pgd["clean_accuracy"], "pgd20": pgd["pgd_accuracy"],
                     "apgd_ce": aa["apgd_ce_accuracy"], "autoattack": aa["autoattack_accuracy"], "n": pgd["n"]})
json.dump(rows, open(f"{out}/losses_fmnist.json", "w"), indent=1)
with open(f"{out}/losses_fmnist.md", "w") as f:
    f.write("| loss | seed | epochs | clean | PGD-20 | APGD-CE | AutoAttack |\n|---|---|---|---|---|---|---|\n")
    for r in rows:
        f.write(f"| {r['loss']} | {r['seed']} | {r['epochs']} | {100*r['clean']:.1f}% | {100*r['pgd20']:.1f}% | "
                f"{100*r['apgd_ce']:.1f}% | {100*r['autoattack']:.1f}% |\n")
print(open(f"{out}/losses_fmnist.md").read())
PY
