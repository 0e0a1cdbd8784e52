#!/usr/bin/env bash
# Imports Debian's Fashion-MNIST (dataset-fashion-mnist) to data/train.h5 and
# data/test.h5, skipping what is there. Usage: scripts/import-fmnist.sh [RAMPART_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bin/rampart}
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
mkdir -p data
for split in train:train t10k:test; do
  src=${split%%:*}; dst=${split##*:}
  [ -f "data/$dst.h5" ] || "$BIN" data import --images "$FMNIST/$src-images-idx3-ubyte.gz" \
      --labels "$FMNIST/$src-labels-idx1-ubyte.gz" --out "data/$dst.h5" --source "Fashion-MNIST $dst"
done
