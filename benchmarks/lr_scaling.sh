#!/usr/bin/env bash
# Large global batches (many ranks) and the learning rate: the reference protocol (FMNIST-PGD7,
# 5 epochs, all 60,000 training images, PGD-20 on the whole test set) at the global batch of 128
# it was tuned for, and at 1024 (8x: 8 times the ranks at the same per-rank batch) with the peak
# learning rate unchanged, scaled linearly (0.05 x 8 = 0.4) and by the square root (0.141), the
# warm-up of warmup-cosine kept (10% of the steps). Same epochs, so the 1024 runs take 8x fewer
# steps. Per seed; the report gives each setting's accuracies and training throughput.
#   benchmarks/lr_scaling.sh   (env: BIN, SEEDS ("0"), RANKS (2), BATCHES ("128 1024"),
#                               SCALINGS ("none linear sqrt"), EPOCHS (5), RUNS, KEEP=1)
# Writes benchmarks/results/lr_scaling.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
SEEDS=${SEEDS:-0}
RANKS=${RANKS:-2}
BATCHES=${BATCHES:-128 1024}
SCALINGS=${SCALINGS:-none linear sqrt}
EPOCHS=${EPOCHS:-5}
RUNS=${RUNS:-$(mktemp -d /tmp/lr_scaling.XXXXXX)}
OUT=${OUT:-benchmarks/results}
mkdir -p "$RUNS" "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
scripts/import-fmnist.sh "$BIN" >/dev/null
launch=()
[ "$RANKS" -gt 1 ] && launch=(mpirun -np "$RANKS" --oversubscribe --bind-to none)
for seed in $SEEDS; do
  for b in $BATCHES; do
    for sc in $SCALINGS; do
      [ "$b" = 128 ] && [ "$sc" != none ] && continue  # at the base batch every scaling is the same
      tag=b$b-$sc-s$seed
      if [ "${KEEP:-0}" = 1 ] && [ -f "$RUNS/$tag/summary.json" ]; then continue; fi
      echo "== batch $b, --lr-scaling $sc, seed $seed"
      "${launch[@]}" "$BIN" train --config configs/fmnist-pgd.ini --data data/train.h5 --test-data data/test.h5 \
        --seed "$seed" --epochs "$EPOCHS" --batch "$b" --lr-scaling "$sc" --out "$RUNS/$tag" --log-every 1000000 \
        >"$RUNS/$tag.log" 2>&1 || { tail -n 20 "$RUNS/$tag.log"; echo "lr_scaling: run $tag failed" >&2; exit 1; }
    done
  done
done
/usr/bin/python3 - "$RUNS" "$OUT" "$SEEDS" "$BATCHES" "$SCALINGS" "$EPOCHS" "$RANKS" <<'EOF'
import json, os, statistics, sys
runs, out, seeds, batches, scalings, epochs, ranks = sys.argv[1:8]
rows = []
for b in batches.split():
    for sc in scalings.split():
        if b == "128" and sc != "none": continue
        per = []
        for s in seeds.split():
            p = f"{runs}/b{b}-{sc}-s{s}/summary.json"
            if not os.path.exists(p): continue
            j = json.load(open(p))
            per.append({"seed": int(s), "clean": 100 * j["clean_accuracy"], "fgsm": 100 * j["fgsm_accuracy"],
                        "pgd20": 100 * j["pgd_accuracy"], "steps": j["steps"], "images_per_s": j["train_images_per_s"]})
        if not per: continue
        lr = 0.05 * (int(b) / 128 if sc == "linear" else (int(b) / 128) ** 0.5 if sc == "sqrt" else 1)
        m = lambda k: statistics.mean(p[k] for p in per)
        rows.append({"batch": int(b), "scaling": sc, "peak_lr": lr, "runs": per, "clean": m("clean"), "fgsm": m("fgsm"),
                     "pgd20": m("pgd20"), "steps": per[0]["steps"], "images_per_s": m("images_per_s")})
json.dump({"epochs": int(epochs), "ranks": int(ranks), "rows": rows}, open(f"{out}/lr_scaling.json", "w"), indent=2)
lines = ["# Global batch 128 against 1024, and the learning rate", "",
         f"The reference protocol (small-cnn, PGD-7 training at eps 0.1, {epochs} epochs of all 60,000 images, "
         f"warmup-cosine with 10% warm-up, {ranks} ranks), seeds {seeds}; clean, FGSM and PGD-20 on the whole test set.", "",
         "| global batch | --lr-scaling | peak lr | steps | clean | FGSM | PGD-20 | PGD-20 per seed | images/s |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    per_seed = ", ".join("%.2f" % p["pgd20"] for p in r["runs"])
    lines.append(f"| {r['batch']} | {r['scaling']} | {r['peak_lr']:.3g} | {r['steps']} | {r['clean']:.2f} | {r['fgsm']:.2f} | "
                 f"**{r['pgd20']:.2f}** | {per_seed} | {r['images_per_s']:.0f} |")
lines += ["", "Command: `benchmarks/lr_scaling.sh` (env SEEDS, RANKS, BATCHES, SCALINGS, EPOCHS)."]
open(f"{out}/lr_scaling.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
