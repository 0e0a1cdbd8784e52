#!/usr/bin/env bash
# The main job from a fresh machine: install, build, import Fashion-MNIST to HDF5,
# PGD adversarial training of small-cnn across MPI ranks, then clean, FGSM and
# PGD-20 accuracy on the test set and the cost.
#
#   scripts/fmnist.sh                       # the reference protocol: 5 epochs, full test set
#   EPOCHS=1 EVAL_LIMIT=1000 scripts/fmnist.sh   # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=${RANKS:-2}
EPOCHS=${EPOCHS:-5}
LIMIT=${LIMIT:-0}
EVAL_LIMIT=${EVAL_LIMIT:-0}
OUT=${OUT:-runs/fmnist-pgd}
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}

scripts/install-deps.sh
TARGET=rampart scripts/build.sh
FMNIST=$FMNIST scripts/import-fmnist.sh build/bin/rampart

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
mpirun -np "$RANKS" --oversubscribe --bind-to none build/bin/rampart train --config configs/fmnist-pgd.ini \
    --data data/train.h5 --test-data data/test.h5 --out "$OUT" \
    --epochs "$EPOCHS" --limit "$LIMIT" --eval-limit "$EVAL_LIMIT"
echo "checkpoint, metrics and summary: $OUT/"
