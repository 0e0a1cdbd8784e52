#!/usr/bin/env bash
# Preemption under mpirun: SIGUSR1 to mpirun (which forwards it to every rank)
# mid-training must end the job with exit 75 after a checkpoint; `--resume` must
# then finish the run, with final weights and momentum equal bit for bit to those
# of an uninterrupted run with the same settings.
# (SIGTERM to mpirun also makes the ranks checkpoint, but mpirun itself then exits 1;
# see launch/mpirun.md.)
# With TARGET "rank R" the signal goes to rank R alone instead of mpirun: any rank's
# signal must stop every rank at the same step boundary.
# PREEMPT_ARGS adds training options (as mpi_train_preempt_carry: a carried-perturbation store
# sharded over 3 ranks, checkpointed through rank 0 and read back by blocks; checkpoint_diff
# --exact compares it too).
# Usage: RAMPART_BIN=... CHECKPOINT_DIFF=... RAMPART_TEST_DATA_DIR=... mpi_train_preempt.sh [NP [mpirun | rank R]]
set -euo pipefail
TEST_NAME=mpi_train_preempt
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=mpi_train_lib.sh
source "$here/mpi_train_lib.sh"
np=${1:-2}
target=${2:-mpirun} target_rank=${3:-}
ensure_data
work=$(mktemp -d /tmp/rampart-preempt.XXXXXX)
mp=""
cleanup() {
  [ -n "$mp" ] && kill -KILL "$mp" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# 2 epochs of 8 steps: the stop lands in the first epoch, so the resume starts mid-epoch and
# must draw that epoch's augmentation (crop-flip) again exactly.
args=(train --config "$root/configs/fmnist-pgd.ini" --data "$TRAIN_H5" --epochs 2 --limit 512 --batch 64
      --log-every 1 --threads 1 --augment crop-flip ${PREEMPT_ARGS:-})

t0=$(now)
"${MPIRUN[@]}" -np "$np" "$RAMPART_BIN" "${args[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; die "the uninterrupted run failed"; }
say "uninterrupted run: $(since "$t0") s"

t0=$(now)
"${MPIRUN[@]}" -np "$np" "$RAMPART_BIN" "${args[@]}" --out "$work/run" >"$work/run1.log" 2>&1 &
mp=$!
wait_for_step "$work/run" 3 "$mp" 120 || { cat "$work/run1.log"; die "training did not reach step 3"; }
if [ "$target" = rank ]; then
  pid=$(rank_pid "$work/run" "$target_rank") || die "no process of rank $target_rank found"
  say "SIGUSR1 to rank $target_rank (pid $pid) only"
  kill -USR1 "$pid"
else
  say "SIGUSR1 to mpirun (pid $mp)"
  kill -USR1 "$mp"
fi
rc=0
wait "$mp" || rc=$?
mp=""
cat "$work/run1.log"
say "first run: exit $rc after $(since "$t0") s"
[ "$rc" -eq 75 ] || die "mpirun exited $rc after SIGUSR1, expected 75"
[ -f "$work/run/checkpoint.h5" ] || die "no checkpoint after the stop"
stopped=$(sed -n 's/.*stopped by a signal at step \([0-9]*\).*/\1/p' "$work/run1.log")
[ -n "$stopped" ] && [ "$stopped" -lt 16 ] || die "no stop before the end (stopped at '${stopped}')"

t0=$(now)
"${MPIRUN[@]}" -np "$np" "$RAMPART_BIN" "${args[@]}" --out "$work/run" --resume >"$work/run2.log" 2>&1 ||
  { cat "$work/run2.log"; die "the resumed run failed"; }
grep "resumed from" "$work/run2.log" || die "the second run did not resume"
say "resumed run: $(since "$t0") s"
# Every step once: the first run logged 1..stopped, the second stopped+1..16.
steps=$(cat "$work/run/metrics.jsonl" | grep -o '"event":"step".*"step":[0-9]*' | grep -o '"step":[0-9]*' | cut -d: -f2 | sort -n | tr '\n' ' ')
[ "$steps" = "$(seq 1 16 | tr '\n' ' ')" ] || die "steps logged across both runs: $steps (expected 1..16 once each)"
"$CHECKPOINT_DIFF" "$work/ref/checkpoint.h5" "$work/run/checkpoint.h5" --exact ||
  die "resumed weights differ from the uninterrupted run's"
say "passed (stopped at step $stopped of 16, resumed, bit-identical)"
