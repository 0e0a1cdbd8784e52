#!/usr/bin/env bash
# Peak resident memory of the PGD training step, rampart against PyTorch on the same work:
# bench_train_step and benchmarks/peer_pytorch.py (PyTorch from benchmarks/peer_venv.sh) hold the
# same batches in memory and run the same steps; /usr/bin/time's maximum resident set size of
# each process. Also `rampart train` over the reference protocol's data (all 60,000 images, one
# epoch's worth of steps capped by LIMIT), which adds the dataset and the carried-start store.
#   benchmarks/memory_compare.sh [BUILD_DIR]
# Env: THREADS (2), LIMIT (6400: the `rampart train` row). Writes benchmarks/results/memory.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${THREADS:-2}
LIMIT=${LIMIT:-6400}
BENCH=$BUILD/bin/bench_train_step
[ -x "$BENCH" ] || { echo "memory_compare: $BENCH not found; run scripts/build.sh" >&2; exit 66; }
command -v /usr/bin/time >/dev/null 2>&1 || [ -x /usr/bin/time ] ||
  { echo "memory_compare: /usr/bin/time is missing (apt-get install time)" >&2; exit 66; }
PY=$(benchmarks/peer_venv.sh)
scripts/import-fmnist.sh "$BUILD/bin/rampart" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 benchmarks/fmnist32x3.py "$tmp/fmnist32x3.h5" 160
rss() {  # LABEL CMD...: runs CMD, prints "LABEL|peak MB"
  local label=$1
  shift
  /usr/bin/time -f "%M" -o "$tmp/rss" "$@" >"$tmp/out" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; echo "memory_compare: '$label' failed" >&2; exit 1; }
  echo "$label|$(awk '{ printf "%.0f", $1 / 1024 }' "$tmp/rss")"
}
rows=()
for model in small-cnn preact-resnet18; do
  if [ "$model" = small-cnn ]; then
    d=data/train.h5 k=7 b=128 steps=5 eps=0.1 alpha=0.025
  else
    d=$tmp/fmnist32x3.h5 k=10 b=32 steps=2 eps=0.031372549 alpha=0.007843137
  fi
  common=(--data "$d" --threads "$THREADS" --steps "$steps" --warmup 1 --batch "$b" --model "$model")
  atk=(--eps "$eps" --alpha "$alpha")
  rows+=("$(rss "$model: rampart, FP32" env OMP_NUM_THREADS="$THREADS" "$BENCH" "${common[@]}" --attack-steps "$k" "${atk[@]}")")
  rows+=("$(rss "$model: rampart, BF16 attack" env OMP_NUM_THREADS="$THREADS" "$BENCH" "${common[@]}" --attack-steps "$k" "${atk[@]}" --attack-precision bf16)")
  rows+=("$(rss "$model: PyTorch, channels-last" "$PY" benchmarks/peer_pytorch.py "${common[@]}" --k "$k" "${atk[@]}")")
  rows+=("$(rss "$model: PyTorch, BF16 autocast" "$PY" benchmarks/peer_pytorch.py "${common[@]}" --k "$k" "${atk[@]}" --bf16-attack)")
  rows+=("$(rss "$model: PyTorch, torch.compile" "$PY" benchmarks/peer_pytorch.py "${common[@]}" --k "$k" "${atk[@]}" --compile)")
done
rows+=("$(rss "rampart train, reference protocol data (60,000 images), $LIMIT images trained" env OMP_NUM_THREADS="$THREADS" \
  "$BUILD/bin/rampart" train --config configs/fmnist-pgd.ini --data data/train.h5 --epochs 1 --limit "$LIMIT" \
  --out "$tmp/run" --log-every 1000000)")
rows+=("$(rss "rampart train, the same with carried starts (--attack-init carry)" env OMP_NUM_THREADS="$THREADS" \
  "$BUILD/bin/rampart" train --config configs/fmnist-pgd.ini --data data/train.h5 --epochs 1 --limit "$LIMIT" \
  --attack-init carry --out "$tmp/run2" --log-every 1000000)")
{
  echo "# Peak resident memory (max RSS), rampart and PyTorch"
  echo
  echo "$(date -Is), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads;"
  echo "PyTorch $("$PY" -c 'import torch; print(torch.__version__)'). The step rows hold the same batches"
  echo "(warm-up + timed steps) in memory: small-cnn 6 batches of 128, PreActResNet-18 3 batches of 32."
  echo
  echo "| run | peak RSS, MB |"
  echo "|---|---|"
  for r in "${rows[@]}"; do echo "| ${r%%|*} | ${r##*|} |"; done
  echo
  echo "Command: \`benchmarks/memory_compare.sh\`."
} >benchmarks/results/memory.md
cat benchmarks/results/memory.md
