#!/usr/bin/env bash
# A residual network on real data: WideResNet-16-4 (configs/fmnist-wrn16-4.ini) PGD-7
# adversarial training on Fashion-MNIST padded to 32x32, with crop-and-flip augmentation,
# across MPI ranks; then clean, FGSM and PGD-20 accuracy on the test set.
#   scripts/fmnist-zoo.sh                         # 2 ranks, 1 epoch, the whole test set
#   EPOCHS=3 EVAL_LIMIT=1000 MODEL=preact-resnet18 scripts/fmnist-zoo.sh
# About an hour an epoch on 2 cores (2 ranks x 1 thread).
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=${RANKS:-2}
EPOCHS=${EPOCHS:-1}
EVAL_LIMIT=${EVAL_LIMIT:-0}
MODEL=${MODEL:-wrn-16-4}
OUT=${OUT:-runs/fmnist-$MODEL}
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}

scripts/install-deps.sh
TARGET=rampart scripts/build.sh
mkdir -p data/fmnist32
for split in train:train t10k:test; do
  src=${split%%:*}; dst=${split##*:}
  [ -f "data/fmnist32/$dst.h5" ] || build/bin/rampart data import --images "$FMNIST/$src-images-idx3-ubyte.gz" \
      --labels "$FMNIST/$src-labels-idx1-ubyte.gz" --pad 2 --out "data/fmnist32/$dst.h5" \
      --source "Fashion-MNIST $dst, zero-padded to 32x32"
done

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
mpirun -np "$RANKS" --oversubscribe --bind-to none build/bin/rampart train --config configs/fmnist-wrn16-4.ini \
    --model "$MODEL" --data data/fmnist32/train.h5 --test-data data/fmnist32/test.h5 --out "$OUT" \
    --epochs "$EPOCHS" --eval-limit "$EVAL_LIMIT"
echo "checkpoint, metrics and summary: $OUT/"
