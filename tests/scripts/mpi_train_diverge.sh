#!/usr/bin/env bash
# Nothing lost to a divergence (2 ranks): a run that blows up (--lr 1e6) after a good checkpoint
# exits 65 naming the checkpoint it kept, and that checkpoint is the good one, bit for bit; a run
# that diverges on its very last step exits 65 too and leaves no checkpoint, never exit 0.
set -euo pipefail
TEST_NAME=mpi_train_diverge
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=mpi_train_lib.sh
source "$here/mpi_train_lib.sh"
ensure_data
work=$(mktemp -d /tmp/rampart-diverge.XXXXXX)
trap 'rm -rf "$work"' EXIT
common=(--config "$root/configs/fmnist-pgd.ini" --data "$TRAIN_H5" --batch 128 --steps 2
        --alpha 0.05 --eval-fgsm false --threads 1 --log-every 1)
train() { "${MPIRUN[@]}" -np 2 "$RAMPART_BIN" train "${common[@]}" "$@"; }

# A good checkpoint after 1 epoch (4 steps), kept aside to compare with.
train --epochs 1 --limit 512 --out "$work/run" >"$work/good.log" 2>&1 || { cat "$work/good.log"; die "the good run failed"; }
cp "$work/run/checkpoint.h5" "$work/good.h5"

# Resumed with a learning rate that blows the weights up, a checkpoint due after every step.
set +e
train --epochs 3 --limit 512 --lr 1e6 --lr-schedule constant --checkpoint-every 1 --resume --out "$work/run" >"$work/bad.log" 2>&1
rc=$?
set -e
cat "$work/bad.log"
[ "$rc" -eq 65 ] || die "the diverging run exited $rc, expected 65"
grep -q "training diverged at step" "$work/bad.log" || die "no 'training diverged' message"
grep -q "(step 4) is kept as it was" "$work/bad.log" || die "the message does not name the kept checkpoint (step 4)"
"$CHECKPOINT_DIFF" "$work/good.h5" "$work/run/checkpoint.h5" --exact ||
  die "the good checkpoint was replaced by the diverging run"
"$RAMPART_BIN" eval --checkpoint "$work/run/checkpoint.h5" --data "$TEST_H5" --limit 200 --json >"$work/eval.json" ||
  die "the kept checkpoint does not evaluate"

# Diverging on the very last step (one step in all: no later forward sees it): exit 65, not 0,
# and no checkpoint of the blown-up weights.
set +e
train --epochs 1 --limit 128 --lr 1e6 --lr-schedule constant --out "$work/last" >"$work/last.log" 2>&1
rc=$?
set -e
cat "$work/last.log"
[ "$rc" -eq 65 ] || die "a run diverging by its last step exited $rc, expected 65"
[ ! -e "$work/last/checkpoint.h5" ] || die "a checkpoint of diverged weights was written"
say "passed"
