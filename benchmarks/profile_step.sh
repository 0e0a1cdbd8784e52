#!/usr/bin/env bash
# Where a training step's time goes, FP32 and BF16 attack passes: the FP32 peak measured in the
# same run, the step's GFLOP/s, rampart's per-layer profile (bench_train_step --profile), oneDNN's
# own timing of every primitive (ONEDNN_VERBOSE=profile_exec: convolutions, reorders, which
# implementation), and perf's hottest symbols (oneDNN's JIT code named through ONEDNN_JIT_PROFILE).
#   benchmarks/profile_step.sh [BUILD_DIR]
# Env: MODEL (small-cnn), THREADS (2), BATCH (128), K (7), STEPS (20), DATA (small-cnn: data/train.h5; a zoo
#      network: Fashion-MNIST padded to 32x32 x 3 channels),
#      PRECISIONS ("fp32 bf16"), PERF=0 to skip perf. Writes benchmarks/results/profile_<model>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MODEL=${MODEL:-small-cnn}
THREADS=${THREADS:-2}
BATCH=${BATCH:-128}
K=${K:-7}
STEPS=${STEPS:-20}
PRECISIONS=${PRECISIONS:-fp32 bf16}
BENCH=$BUILD/bin/bench_train_step
[ -x "$BENCH" ] || { echo "profile_step: $BENCH not found; run scripts/build.sh" >&2; exit 66; }
scripts/import-fmnist.sh "$BUILD/bin/rampart" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$MODEL" = small-cnn ]; then
  DATA=${DATA:-data/train.h5}
else  # a zoo network: CIFAR-shaped images, as benchmarks/peer_compare.sh makes them
  DATA=${DATA:-$tmp/fmnist32x3.h5}
  [ -f "$DATA" ] || /usr/bin/python3 benchmarks/fmnist32x3.py "$DATA" "$(( BATCH * (STEPS + 3) ))"
fi
out=benchmarks/results/profile_$MODEL.md
py=/usr/bin/python3
load_before=$(cut -d' ' -f1 /proc/loadavg)
common=(--data "$DATA" --model "$MODEL" --threads "$THREADS" --batch "$BATCH" --attack-steps "$K")

{
echo "# Where the time of a training step goes: $MODEL, PGD-$K, batch $BATCH, $THREADS threads"
echo
echo "$(date -Is), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $load_before before."
echo "Command: \`MODEL=$MODEL benchmarks/profile_step.sh $BUILD\`."
for p in $PRECISIONS; do
  OMP_NUM_THREADS=$THREADS "$BENCH" "${common[@]}" --steps "$STEPS" --attack-precision "$p" --profile \
    --warmup "${WARMUP:-3}" --json "$tmp/$p.json" >/dev/null
  # One step more with oneDNN's verbose timing (a separate run: verbose output costs time itself).
  ONEDNN_VERBOSE=profile_exec DNNL_VERBOSE=1 OMP_NUM_THREADS=$THREADS "$BENCH" "${common[@]}" --steps 1 --warmup 2 \
    --attack-precision "$p" >"$tmp/$p.verbose" 2>&1 || true
  if [ "${PERF:-1}" = 1 ] && command -v perf >/dev/null; then
    ONEDNN_JIT_PROFILE=1 DNNL_JIT_PROFILE=1 OMP_NUM_THREADS=$THREADS perf record -q -F 999 -e cpu-clock -o "$tmp/$p.perf" \
      "$BENCH" "${common[@]}" --steps "$STEPS" --attack-precision "$p" >/dev/null 2>&1 || true
    perf report -q -i "$tmp/$p.perf" --no-children --sort dso,sym --percent-limit 1.5 --stdio 2>/dev/null |
      sed 's/ \+$//' | head -n 25 >"$tmp/$p.perfrep" || true
  fi
  "$py" - "$tmp/$p.json" "$tmp/$p.verbose" "$tmp/$p.perfrep" "$p" "$STEPS" <<'EOF'
import json, sys, re, collections, os
j = json.load(open(sys.argv[1]))
p, steps = sys.argv[4], int(sys.argv[5])
print(f"\n## Attack passes in {p.upper()}\n")
print(f"{j['images_per_s']:.0f} images/s (median of {steps} steps: {j['step_s_median']*1e3:.1f} ms, attack "
      f"{j['attack_s_median']*1e3:.1f} ms); {j['gflops']:.0f} GFLOP/s counted in FP32 terms, "
      f"**{j['percent_of_peak']:.0f}%** of the FP32 peak measured in the same run ({j['peak_gflops']:.0f} GFLOP/s).\n")
print(f"Execution plan: {j['plan']}\n")
prof = j.get("profile_per_step", [])
tot = sum(r["forward_s"] + r["backward_s"] for r in prof) or 1
print("| layers | executor | forward ms/step | backward ms/step | share |")
print("|---|---|---|---|---|")
for r in prof:
    f, b = r["forward_s"] * 1e3, r["backward_s"] * 1e3
    print(f"| {r['layers']} | {r['type']} | {f:.1f} | {b:.1f} | {100*(f+b)/1e3/tot:.0f}% |")
# oneDNN verbose: onednn_verbose,exec,cpu,<prim>,<impl>,<kind>,<md>,...,<desc>,<ms>
agg = collections.defaultdict(lambda: [0, 0.0])
for line in open(sys.argv[2], errors="replace"):
    if not re.match(r"^(onednn|dnnl)_verbose,", line) or ",exec," not in line: continue
    f = line.strip().split(",")
    try: ms = float(f[-1])
    except ValueError: continue
    i = f.index("exec")
    prim, impl, kind = f[i + 2], f[i + 3], f[i + 4]
    desc = f[-2]
    key = (prim, impl, kind, desc)
    agg[key][0] += 1; agg[key][1] += ms
if agg:
    total = sum(v[1] for v in agg.values())
    print(f"\noneDNN primitives over one step ({total:.1f} ms inside oneDNN):\n")
    print("| primitive | implementation | kind | shape | calls | ms | share |")
    print("|---|---|---|---|---|---|---|")
    for (prim, impl, kind, desc), (n, ms) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:14]:
        print(f"| {prim} | {impl} | {kind} | `{desc}` | {n} | {ms:.2f} | {100*ms/total:.0f}% |")
if os.path.exists(sys.argv[3]) and os.path.getsize(sys.argv[3]):
    print("\nperf, hottest symbols (cpu-clock samples, 1.5% and up):\n\n```")
    print(open(sys.argv[3]).read().rstrip())
    print("```")
EOF
done
echo
echo "Load average after: $(cut -d' ' -f1 /proc/loadavg)."
} >"$out"
cat "$out"
