#!/usr/bin/env bash
# The reference protocol (configs/fmnist-pgd.ini: 5 epochs of PGD-7 training, the whole
# test set) at several seeds, on RANKS MPI ranks, so that accuracy is reported as a
# spread and not as one lucky or unlucky run. Training is deterministic per seed, so
# the accuracies do not depend on machine load (the throughput does).
# Writes benchmarks/results/protocol_seeds_<RANKS>rank.{json,md}.
#
# usage: benchmarks/protocol_seeds.sh   (env: BIN, SEEDS, RANKS, OUT, RUNS)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
SEEDS=${SEEDS:-"0 1 2 3"}
RANKS=${RANKS:-1}
OUT=${OUT:-benchmarks/results}
RUNS=${RUNS:-$(mktemp -d /tmp/protocol_seeds.XXXXXX)}
mkdir -p "$RUNS"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

scripts/import-fmnist.sh "$BIN"
launch=()
if [[ "$RANKS" != 1 ]]; then launch=(mpirun -np "$RANKS" --oversubscribe --bind-to none); fi
for s in $SEEDS; do
  echo "== seed $s on $RANKS rank(s)" >&2
  "${launch[@]}" "$BIN" train --config configs/fmnist-pgd.ini --data data/train.h5 --test-data data/test.h5 \
    --seed "$s" --out "$RUNS/seed$s" --json --log-level warn > "$RUNS/seed$s.json"
done

mkdir -p "$OUT"
python3 - "$RUNS" "$OUT" "$RANKS" $SEEDS <<'PY'
import json, statistics, sys
runs, out, ranks, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
rows = []
for s in seeds:
    d = json.load(open(f"{runs}/seed{s}.json"))
    rows.append({"seed": int(s), "clean": d["clean_accuracy"], "fgsm": d["fgsm_accuracy"], "pgd20": d["pgd_accuracy"],
                 "images_per_s": d["train_images_per_s"], "wall_s": d["wall_seconds"],
                 "checkpoint": f"{runs}/seed{s}/checkpoint.h5"})
def stat(k):
    v = [r[k] for r in rows]
    return {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0, "min": min(v), "max": max(v)}
summary = {k: stat(k) for k in ("clean", "fgsm", "pgd20")}
json.dump({"ranks": ranks, "runs": rows, "summary": summary}, open(f"{out}/protocol_seeds_{ranks}rank.json", "w"), indent=1)
with open(f"{out}/protocol_seeds_{ranks}rank.md", "w") as f:
    f.write(f"# The reference protocol at {len(rows)} seeds, {ranks} rank(s)\n\n")
    f.write("5 epochs of PGD-7 training (configs/fmnist-pgd.ini); clean, FGSM and PGD-20 on all 10,000 test images.\n\n")
    f.write("| seed | clean | FGSM | PGD-20 | training images/s |\n|---|---|---|---|---|\n")
    for r in rows:
        f.write(f"| {r['seed']} | {100*r['clean']:.2f}% | {100*r['fgsm']:.2f}% | {100*r['pgd20']:.2f}% | {r['images_per_s']:.0f} |\n")
    f.write("| **mean ± s.d.** | " + " | ".join(f"{100*summary[k]['mean']:.2f} ± {100*summary[k]['sd']:.2f}%"
                                            for k in ("clean", "fgsm", "pgd20")) + " | |\n\n")
    f.write(f"Command: `RANKS={ranks} SEEDS=\"{' '.join(seeds)}\" benchmarks/protocol_seeds.sh` "
            "(throughput depends on machine load; the accuracies do not).\n")
print(open(f"{out}/protocol_seeds_{ranks}rank.md").read())
PY
