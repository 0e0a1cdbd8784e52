#!/usr/bin/env bash
# Peer comparison (../shared/PROTOCOL.md): rampart's training step against
# PyTorch's best CPU configuration, same machine, same threads, run alternately
# (rampart, pytorch, rampart, ...) so background load hits both alike.
# Writes benchmarks/results/peer.json and peer.md with medians, spreads and the ratio.
#   benchmarks/peer_compare.sh [BUILD_DIR] [ROUNDS] [STEPS]
# Env: THREADS (2), DATA (data/train.h5), EXTRA_RAMPART_ARGS (e.g. --no-fusion), OUT_PREFIX (peer),
#      BASELINE_ARGS (e.g. --no-fusion: each round also runs rampart with these, to
#      measure a change before/after in the same alternation).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${2:-3}
STEPS=${3:-20}
THREADS=${THREADS:-2}
DATA=${DATA:-data/train.h5}
PREFIX=${OUT_PREFIX:-peer}
BENCH="$BUILD/bin/bench_train_step"
[ -x "$BENCH" ] || { echo "peer_compare: $BENCH not found; build with: cmake --build $BUILD --target bench_train_step" >&2; exit 66; }
[ -f "$DATA" ] || { echo "peer_compare: $DATA not found; make it with: rampart data import --images ... --out $DATA" >&2; exit 66; }

mkdir -p benchmarks/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load_before=$(cut -d' ' -f1 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=$THREADS "$BENCH" --data "$DATA" --threads "$THREADS" --steps "$STEPS" ${EXTRA_RAMPART_ARGS:-} \
    > "$tmp/rampart.$r.json"
  if [ -n "${BASELINE_ARGS:-}" ]; then
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$THREADS "$BENCH" --data "$DATA" --threads "$THREADS" --steps "$STEPS" $BASELINE_ARGS \
      > "$tmp/baseline.$r.json"
  fi
  /usr/bin/python3 benchmarks/peer_pytorch.py --data "$DATA" --threads "$THREADS" --steps "$STEPS" \
    > "$tmp/pytorch.$r.json"
  echo "round $r: rampart $(grep -o '"images_per_s":[0-9.]*' "$tmp/rampart.$r.json" | cut -d: -f2) img/s," \
       "pytorch $(grep -o '"images_per_s": [0-9.]*' "$tmp/pytorch.$r.json" | cut -d' ' -f2) img/s" >&2
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

/usr/bin/python3 - "$tmp" "$ROUNDS" "$PREFIX" "$load_before" "$load_after" "$(nproc)" <<'EOF'
import json, os, statistics, sys, datetime, platform
tmp, rounds, prefix, lb, la, ncpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
R = [json.load(open(f"{tmp}/rampart.{r}.json")) for r in range(1, rounds + 1)]
P = [json.load(open(f"{tmp}/pytorch.{r}.json")) for r in range(1, rounds + 1)]
ri = [x["images_per_s"] for x in R]
pi = [x["images_per_s"] for x in P]
ratios = [a / b for a, b in zip(ri, pi)]
# Other work only lowers what the FMA loop reaches: the highest of the runs is the best estimate.
peak = max(x["peak_gflops"] for x in R)
med_r, med_p = statistics.median(ri), statistics.median(pi)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
res = {
    "date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu, "cpus": int(ncpu),
    "threads": R[0]["threads"], "rounds": rounds, "steps_per_run": R[0]["steps"],
    "load_before": float(lb), "load_after": float(la), "mflop_per_image": 143.7,
    "peak_gflops_measured": peak,
    "rampart": {"images_per_s_median": med_r, "images_per_s_runs": ri, "fusion": R[0].get("fusion"),
                "gflops": med_r * 143.7e-3, "percent_of_peak": 100 * med_r * 143.7e-3 / peak},
    "pytorch": {"images_per_s_median": med_p, "images_per_s_runs": pi, "version": P[0]["version"],
                "config": {k: P[0][k] for k in ("layout", "flush_denormal", "openblas_threads", "malloc_mmap_threshold")},
                "gflops": med_p * 143.7e-3, "percent_of_peak": 100 * med_p * 143.7e-3 / peak},
    "ratio_median": statistics.median(ratios), "ratio_runs": ratios,
    "ratio_of_medians": med_r / med_p, "target_ratio": 2.0,
}
base_md = ""
if os.path.exists(f"{tmp}/baseline.1.json"):
    B = [json.load(open(f"{tmp}/baseline.{r}.json")) for r in range(1, rounds + 1)]
    bi = [x["images_per_s"] for x in B]
    res["baseline"] = {"args": os.environ.get("BASELINE_ARGS"), "images_per_s_median": statistics.median(bi),
                       "images_per_s_runs": bi, "ratio_to_pytorch": statistics.median([a / b for a, b in zip(bi, pi)]),
                       "speedup_of_rampart_over_baseline": statistics.median([a / b for a, b in zip(ri, bi)])}
    base_md = (f"\nBaseline rampart ({res['baseline']['args']}): {statistics.median(bi):.0f} images/s (runs "
               + ", ".join(f"{x:.0f}" for x in bi) + f"), {res['baseline']['ratio_to_pytorch']:.2f}x PyTorch; "
               f"rampart over baseline: {res['baseline']['speedup_of_rampart_over_baseline']:.2f}x.\n")
json.dump(res, open(f"benchmarks/results/{prefix}.json", "w"), indent=2)
fmt = lambda v: ", ".join(f"{x:.0f}" for x in v)
md = f"""# rampart vs PyTorch: PGD-7 training step (FMNIST-PGD7, small-cnn, batch 128)

{res['date']}, {cpu}, {ncpu} CPUs, {res['threads']} threads each, {rounds} alternating rounds of
{res['steps_per_run']} timed steps (after warm-up), load average {lb} before, {la} after.
Measured FP32 peak (FMA loop, same threads, highest of the runs): {peak:.0f} GFLOP/s. 143.7 MFLOP per image.

| | images/s (median) | runs | GFLOP/s | % of peak |
|---|---|---|---|---|
| rampart (fusion {res['rampart']['fusion']}) | {med_r:.0f} | {fmt(ri)} | {res['rampart']['gflops']:.0f} | {res['rampart']['percent_of_peak']:.0f}% |
| PyTorch {P[0]['version']} ({P[0]['layout']}, OpenBLAS 1 thread, mmap threshold 32 MiB, denormals flushed: {P[0]['flush_denormal']}) | {med_p:.0f} | {fmt(pi)} | {res['pytorch']['gflops']:.0f} | {res['pytorch']['percent_of_peak']:.0f}% |

Ratio rampart / PyTorch: **{res['ratio_median']:.2f}x** (median of per-round ratios; runs {', '.join(f'{r:.2f}' for r in ratios)}); target 2x.
{base_md}"""
open(f"benchmarks/results/{prefix}.md", "w").write(md)
print(md)
EOF
