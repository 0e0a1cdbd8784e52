#!/usr/bin/env bash
# Robust accuracy of BF16 attack steps against FP32 ones on the reference protocol
# (configs/fmnist-pgd.ini: 5 epochs of PGD-7, all 60,000 training images, RANKS ranks): per
# seed, the same run with --attack-precision fp32 and bf16 (alternating, so that load drift hits
# both), then on each checkpoint clean and PGD-20 on the whole test set (the run's own final
# evaluation, FP32), PGD-50 with 3 restarts on the first STRONG_LIMIT and AutoAttack on the
# first AA_LIMIT test images (rampart's, FP32). The report pairs the two precisions seed by seed
# (BF16 minus FP32: mean, s.d., and the seed-to-seed s.d. of FP32 itself as the noise to compare
# with) and gives the training throughput of each.
# Writes benchmarks/results/bf16_accuracy.{json,md}.
#
# usage: benchmarks/bf16_accuracy.sh   (env: BIN, SEEDS ("0 1 2 3"), RANKS (2), STRONG_LIMIT (1000),
#        AA_LIMIT (500; 0: none), LIMIT and EVAL_LIMIT (0: all; for a quick try), RUNS,
#        KEEP=1: reuse the runs already in RUNS)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
SEEDS=${SEEDS:-"0 1 2 3"}
RANKS=${RANKS:-2}
STRONG_LIMIT=${STRONG_LIMIT:-1000}
AA_LIMIT=${AA_LIMIT:-500}
LIMIT=${LIMIT:-0}
EVAL_LIMIT=${EVAL_LIMIT:-0}
OUT=${OUT:-benchmarks/results}
RUNS=${RUNS:-$(mktemp -d /tmp/bf16_accuracy.XXXXXX)}
mkdir -p "$RUNS" "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

scripts/import-fmnist.sh "$BIN"
help=$("$BIN" train --help)
[[ "$help" == *--attack-precision* ]] || { echo "bf16_accuracy: $BIN has no --attack-precision" >&2; exit 66; }
launch=()
if [[ "$RANKS" != 1 ]]; then launch=(mpirun -np "$RANKS" --oversubscribe --bind-to none); fi
for s in $SEEDS; do
  for p in fp32 bf16; do
    tag=$p-s$s
    if [[ "${KEEP:-0}" != 1 || ! -s "$RUNS/$tag.json" ]]; then
      echo "== seed $s, attack passes in $p, $RANKS rank(s)" >&2
      "${launch[@]}" "$BIN" train --config configs/fmnist-pgd.ini --data data/train.h5 --test-data data/test.h5 \
        --seed "$s" --attack-precision "$p" --limit "$LIMIT" --eval-limit "$EVAL_LIMIT" --out "$RUNS/$tag" --json --log-level warn > "$RUNS/$tag.json"
    fi
    [[ -s "$RUNS/$tag.strong" ]] || "${launch[@]}" "$BIN" eval --checkpoint "$RUNS/$tag/checkpoint.h5" \
      --data data/test.h5 --attack pgd --eps 0.1 --steps 50 --alpha 0.025 --restarts 3 --limit "$STRONG_LIMIT" \
      --json > "$RUNS/$tag.strong"
    if [[ "$AA_LIMIT" -gt 0 && ! -s "$RUNS/$tag.aa" ]]; then
      "${launch[@]}" "$BIN" eval --checkpoint "$RUNS/$tag/checkpoint.h5" --data data/test.h5 --attack autoattack \
        --eps 0.1 --limit "$AA_LIMIT" --json > "$RUNS/$tag.aa"
    fi
  done
done

python3 - "$RUNS" "$OUT" "$RANKS" "$STRONG_LIMIT" "$AA_LIMIT" "$EVAL_LIMIT" $SEEDS <<'PY'
import json, os, statistics, sys
runs, out, ranks, strong_limit, aa_limit, eval_limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
seeds = sys.argv[7:]
def load(tag):
    d = json.load(open(f"{runs}/{tag}.json"))
    strong = json.load(open(f"{runs}/{tag}.strong"))
    aa = json.load(open(f"{runs}/{tag}.aa")) if os.path.exists(f"{runs}/{tag}.aa") and aa_limit else None
    return {"clean": d["clean_accuracy"], "pgd20": d["pgd_accuracy"], "pgd50x3": strong["robust_accuracy"],
            "autoattack": aa["autoattack_accuracy"] if aa else None, "images_per_s": d["train_images_per_s"],
            "attack_seconds": d.get("attack_seconds"), "wall_s": d["wall_seconds"]}
rows = [{"seed": int(s), "fp32": load(f"fp32-s{s}"), "bf16": load(f"bf16-s{s}")} for s in seeds]
keys = ["clean", "pgd20", "pgd50x3"] + (["autoattack"] if aa_limit else [])
def ms(v):
    return {"mean": statistics.mean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0}
summary = {p: {k: ms([r[p][k] for r in rows]) for k in keys + ["images_per_s"]} for p in ("fp32", "bf16")}
diff = {k: ms([100 * (r["bf16"][k] - r["fp32"][k]) for r in rows]) for k in keys}
speed = ms([r["bf16"]["images_per_s"] / r["fp32"]["images_per_s"] for r in rows])
res = {"ranks": ranks, "seeds": [int(s) for s in seeds], "summary": summary, "bf16_minus_fp32_points": diff,
       "bf16_over_fp32_throughput": speed, "runs": rows}
json.dump(res, open(f"{out}/bf16_accuracy.json", "w"), indent=1)
names = {"clean": "clean", "pgd20": f"PGD-20 (first {eval_limit})" if eval_limit else "PGD-20 (all 10,000)", "pgd50x3": f"PGD-50x3 (first {strong_limit})",
         "autoattack": f"AutoAttack (first {aa_limit})"}
md = [f"# BF16 against FP32 attack steps: the reference protocol at {len(rows)} seeds, {ranks} rank(s)", "",
      "5 epochs of PGD-7 training (configs/fmnist-pgd.ini), the attack's passes in each precision; every evaluation FP32.", "",
      "| | FP32 attack steps | BF16 attack steps | BF16 − FP32, points (paired) |", "|---|---|---|---|"]
for k in keys:
    f, b, d = summary["fp32"][k], summary["bf16"][k], diff[k]
    md.append(f"| {names[k]} | {100*f['mean']:.2f} ± {100*f['sd']:.2f}% | {100*b['mean']:.2f} ± {100*b['sd']:.2f}% | "
              f"{d['mean']:+.2f} ± {d['sd']:.2f} |")
md.append(f"| training images/s | {summary['fp32']['images_per_s']['mean']:.0f} | {summary['bf16']['images_per_s']['mean']:.0f} | "
          f"x{speed['mean']:.2f} |")
md += ["", "Every run (clean / PGD-20 / PGD-50x3 / AutoAttack, %):", "", "| seed | FP32 | BF16 |", "|---|---|---|"]
fmt = lambda r: " / ".join("n/a" if r[k] is None else f"{100*r[k]:.2f}" for k in keys)
md += [f"| {r['seed']} | {fmt(r['fp32'])} | {fmt(r['bf16'])} |" for r in rows]
md += ["", f"Command: `RANKS={ranks} SEEDS=\"{' '.join(seeds)}\" STRONG_LIMIT={strong_limit} AA_LIMIT={aa_limit} "
       "benchmarks/bf16_accuracy.sh` (throughput depends on machine load; the accuracies do not)."]
open(f"{out}/bf16_accuracy.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
