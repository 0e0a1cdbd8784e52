#!/usr/bin/env bash
# The end-to-end GPU check of benchmarks/gpu_check.sh: the same training run on
# --device cpu and --device cuda (one Model, attack engine and optimizer; only the
# kernels differ) must end with the same weights up to rounding.
#   benchmarks/gpu_e2e.sh [BUILD_DIR]     (default: $BUILD or build)
# Data: 512 synthetic 28x28 images written in the IDX format and imported with
# `rampart data import`, so that the check needs no dataset on the GPU machine.
# 1. --attack none, 4 steps: every weight within 1e-3 relative (cuDNN/cuBLAS against
#    oneDNN/sgemm in FP32; TF32 off).
# 2. --attack pgd (K=3), 4 steps: runs, and the last step's loss within 5% of the CPU's
#    (a pixel whose gradient is near zero may step the other way on one device).
set -euo pipefail
BUILD=${1:-${BUILD:-build}}
RAMPART="$BUILD/bin/rampart"
OTHER=${E2E_OTHER:-cuda}  # the device compared with the CPU (E2E_OTHER=cpu: a dry run of this script)
DIFF="$BUILD/bin/checkpoint_diff"
for b in "$RAMPART" "$DIFF"; do
  [ -x "$b" ] || { echo "gpu_e2e: $b not found; build the rampart and checkpoint_diff targets in $BUILD" >&2; exit 66; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# IDX: magic 0x00000803 (uint8, 3 dims) / 0x00000801, big-endian sizes, then the bytes.
LC_ALL=C awk 'BEGIN { srand(1); n = 512;
  printf "%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c", 0,0,8,3, 0,0,2,0, 0,0,0,28, 0,0,0,28;
  for (i = 0; i < n * 784; ++i) printf "%c", int(rand() * 256) }' > "$work/images.idx"
LC_ALL=C awk 'BEGIN { srand(2); n = 512;
  printf "%c%c%c%c%c%c%c%c", 0,0,8,1, 0,0,2,0;
  for (i = 0; i < n; ++i) printf "%c", int(rand() * 10) }' > "$work/labels.idx"
"$RAMPART" data import --images "$work/images.idx" --labels "$work/labels.idx" --out "$work/train.h5" >/dev/null
common=(--data "$work/train.h5" --limit 512 --batch 128 --epochs 1 --seed 5 --log-every 1)
status=0
for attack in none pgd; do
  for device in cpu "$OTHER"; do
    "$RAMPART" train "${common[@]}" --attack "$attack" --steps 3 --device "$device" --out "$work/$attack-$device" \
      > "$work/$attack-$device.log" 2>&1 || { echo "e2e: --attack $attack --device $device failed:"; tail -5 "$work/$attack-$device.log"; exit 1; }
  done
done
echo "--attack none: cpu against $OTHER"
"$DIFF" "$work/none-cpu/checkpoint.h5" "$work/none-$OTHER/checkpoint.h5" --tol 1e-3 || status=1
last_loss() { /usr/bin/env python3 -c "import json,sys; print([e['loss'] for e in map(json.loads, open(sys.argv[1])) if e.get('event') == 'step'][-1])" "$1/metrics.jsonl"; }
if command -v python3 >/dev/null; then
  lc=$(last_loss "$work/pgd-cpu") lg=$(last_loss "$work/pgd-$OTHER")
  echo "--attack pgd: last loss cpu $lc, $OTHER $lg"
  python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(a - b) <= 0.05 * abs(a) else 1)" "$lc" "$lg" ||
    { echo "e2e: the PGD runs' last losses differ by more than 5%"; status=1; }
else
  echo "--attack pgd: ran on both devices (no python3 to compare the losses)"
fi
exit $status
