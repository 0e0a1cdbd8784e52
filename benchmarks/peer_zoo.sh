#!/usr/bin/env bash
# rampart against the newest PyTorch (PyPI, benchmarks/peer_venv.sh) on a residual network of
# the zoo: one PGD-K adversarial training step (attack in train-mode batchnorm, as both
# default to; then forward, loss, backward, SGD), same machine, same threads, on CIFAR-shaped
# real images (Fashion-MNIST padded to 32x32, the channel repeated 3 times). Every
# configuration a PyTorch user would try is timed: channels-last, NCHW, torch.compile
# (channels-last); the best is the peer. Runs alternate (rampart, then each PyTorch
# configuration, round after round) so that background load hits all alike.
#   benchmarks/peer_zoo.sh [BUILD_DIR] [ROUNDS] [STEPS]
# Env: MODEL (preact-resnet18), K (10), BATCH (32), EPS (8/255), ALPHA (2/255), THREADS (2),
#      WARMUP (1; torch.compile compiles in its first steps, which are not timed),
#      TORCH_CONFIGS ("channels_last nchw compile"), OUT_PREFIX (peer_zoo).
# Writes benchmarks/results/<prefix>.json and .md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${2:-3}
STEPS=${3:-4}
MODEL=${MODEL:-preact-resnet18}
K=${K:-10}
BATCH=${BATCH:-32}
EPS=${EPS:-0.031372549}     # 8/255
ALPHA=${ALPHA:-0.007843137}  # 2/255
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-1}
CONFIGS=${TORCH_CONFIGS:-channels_last nchw compile}
PREFIX=${OUT_PREFIX:-peer_zoo}
BENCH="$BUILD/bin/bench_train_step"
[ -x "$BENCH" ] || { echo "peer_zoo: $BENCH not found; build with: cmake --build $BUILD --target bench_train_step" >&2; exit 66; }
[ -x "$BUILD/bin/rampart" ] || { echo "peer_zoo: $BUILD/bin/rampart not found; run scripts/build.sh" >&2; exit 66; }
PY=$(benchmarks/peer_venv.sh)
scripts/import-fmnist.sh "$BUILD/bin/rampart" >/dev/null

mkdir -p benchmarks/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=$tmp/fmnist32x3.h5
/usr/bin/python3 - "$data" "$(( BATCH * (WARMUP + STEPS) ))" <<'EOF'
import sys, h5py, numpy as np
out, n = sys.argv[1], int(sys.argv[2])
with h5py.File("data/train.h5", "r") as f:
    x, y = f["images"][:n], f["labels"][:n]
x = np.repeat(np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))), 3, axis=1)
with h5py.File(out, "w") as f:
    f["images"], f["labels"] = x, y
    f.attrs["classes"], f.attrs["source"] = np.int64(10), "Fashion-MNIST padded to 32x32, 3 channels"
EOF

load_before=$(cut -d' ' -f1 /proc/loadavg)
common=(--data "$data" --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" --batch "$BATCH")
for r in $(seq 1 "$ROUNDS"); do
  OMP_NUM_THREADS=$THREADS "$BENCH" "${common[@]}" --model "$MODEL" --attack-steps "$K" --eps "$EPS" --alpha "$ALPHA" \
    > "$tmp/rampart.$r.json"
  line="round $r: rampart $(/usr/bin/python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['images_per_s'], 2))" "$tmp/rampart.$r.json")"
  for c in $CONFIGS; do
    case "$c" in
      channels_last) flags=() ;;
      nchw) flags=(--nchw) ;;
      compile) flags=(--compile) ;;
      *) echo "peer_zoo: unknown configuration '$c' (expected channels_last, nchw or compile)" >&2; exit 64 ;;
    esac
    "$PY" benchmarks/peer_pytorch.py "${common[@]}" --model "$MODEL" --k "$K" --eps "$EPS" --alpha "$ALPHA" \
      "${flags[@]}" > "$tmp/torch-$c.$r.json"
    line+=", $c $("$PY" -c "import json,sys; print(round(json.load(open(sys.argv[1]))['images_per_s'], 2))" "$tmp/torch-$c.$r.json")"
  done
  echo "$line img/s" >&2
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

/usr/bin/python3 - "$tmp" "$ROUNDS" "$PREFIX" "$load_before" "$load_after" "$CONFIGS" <<'EOF'
import datetime, json, statistics, sys
tmp, rounds, prefix, lb, la, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6].split()
R = [json.load(open(f"{tmp}/rampart.{r}.json")) for r in range(1, rounds + 1)]
T = {c: [json.load(open(f"{tmp}/torch-{c}.{r}.json")) for r in range(1, rounds + 1)] for c in configs}
mflop = R[0]["mflop_per_image"]
peak = max(x["peak_gflops"] for x in R)  # other work only lowers the FMA loop: the highest is the estimate
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ri = [x["images_per_s"] for x in R]
rows = {"rampart": ri}
rows.update({f"pytorch {c}": [x["images_per_s"] for x in T[c]] for c in configs})
best = max(configs, key=lambda c: statistics.median(rows[f"pytorch {c}"]))
bi = rows[f"pytorch {best}"]
ratios = [a / b for a, b in zip(ri, bi)]
res = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu, "model": R[0]["model"],
       "attack_steps": R[0]["attack_steps"], "batch": R[0]["batch"], "threads": R[0]["threads"], "rounds": rounds,
       "steps_per_run": R[0]["steps"], "load_before": float(lb), "load_after": float(la),
       "mflop_per_image": mflop, "peak_gflops_measured": peak, "torch": T[configs[0]][0]["version"],
       "images_per_s": {k: {"median": statistics.median(v), "runs": v} for k, v in rows.items()},
       "best_pytorch": best, "ratio_median": statistics.median(ratios), "ratio_runs": ratios}
json.dump(res, open(f"benchmarks/results/{prefix}.json", "w"), indent=2)
fmt = lambda v: ", ".join(f"{x:.2f}" for x in v)
lines = []
for k, v in rows.items():
    m = statistics.median(v)
    lines.append(f"| {k} | {m:.2f} | {fmt(v)} | {m * mflop / 1e3:.0f} | {100 * m * mflop / 1e3 / peak:.0f}% |")
md = f"""# rampart vs PyTorch {res['torch']}: PGD-{res['attack_steps']} training step, {res['model']}, batch {res['batch']}

{res['date']}, {cpu}, {res['threads']} threads, {rounds} alternating rounds of {res['steps_per_run']} timed steps,
load average {lb} before, {la} after. {mflop / 1e3:.1f} GFLOP per image ((2K + 3) forwards); measured FP32
peak (FMA loop, same threads, highest of the runs) {peak:.0f} GFLOP/s.

| | images/s (median) | runs | GFLOP/s | % of peak |
|---|---|---|---|---|
{chr(10).join(lines)}

rampart / best PyTorch ({best}): **{res['ratio_median']:.2f}x** (median of per-round ratios: {', '.join(f'{r:.2f}' for r in ratios)}).
"""
open(f"benchmarks/results/{prefix}.md", "w").write(md)
print(md)
EOF
