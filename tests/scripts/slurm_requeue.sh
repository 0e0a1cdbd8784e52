#!/usr/bin/env bash
# Tests launch/slurm/train.sbatch on a real single-node Slurm cluster with a
# stand-in trainer (fake_rampart.sh): a USR1 to the batch script must reach the
# ranks, exit 75 must requeue the job, and the rerun must resume where the ranks
# stopped and complete, every step run exactly once. Exit 77 without root or Slurm.
# Usage: slurm_requeue.sh [TRAINER]   (default: tests/scripts/fake_rampart.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
trainer=${1:-$here/fake_rampart.sh}
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm_requeue: skipped (needs root and slurm-wlm munge: scripts/install-deps.sh --with-slurm)"
  exit 77
fi
work=$(mktemp -d /tmp/rampart-slurm-requeue.XXXXXX)
cleanup() { "$here/slurm_cluster.sh" stop "$work/cluster" >/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export RAMPART_SLURM_PORT=${RAMPART_SLURM_PORT:-$((20000 + ($$ % 5000) * 2))}
"$here/slurm_cluster.sh" start "$work/cluster"
export SLURM_CONF=$work/cluster/slurm.conf
fail() {
  echo "slurm_requeue: FAILED: $*" >&2
  echo "--- job output:"; cat "$work/job.out" 2>/dev/null
  echo "--- slurmd log:"; cat "$work/cluster/log/"slurmd.*log 2>/dev/null | grep -v debug | tail -n 30
  exit 1
}
# shellcheck source=slurm_job_lib.sh
source "$here/slurm_job_lib.sh"

cd "$work"
id=$(sbatch --parsable -n 2 -o "$work/job.out" \
  --export=ALL,RAMPART_BIN="$trainer",RAMPART_OUT="$work/run",FAKE_STEPS=40 \
  "$root/launch/slurm/train.sbatch")
echo "slurm_requeue: submitted job $id"
# Let the ranks take a few steps, then send what --signal=B:USR1@N would send.
for _ in $(seq 300); do grep -q "rank 1 step 5" "$work/job.out" 2>/dev/null && break; sleep 0.2; done
grep -q "rank 1 step 5" "$work/job.out" || fail "the ranks did not start"
scancel --batch --signal=USR1 "$id"
echo "slurm_requeue: sent USR1 to the batch script"

await_requeued 30
await_end 120
echo "slurm_requeue: job $id ended $state after $(field Restarts) requeue(s); output:"
cat "$work/job.out"
[ "$state" = COMPLETED ] || fail "job state $state, expected COMPLETED"
grep -q "step ended with exit code 75" job.out || fail "the first run did not end with exit code 75"
grep -q "requeueing" job.out || fail "the batch script did not requeue"
[ -f "$work/run/summary.json" ] || fail "no summary.json after the second run"
for r in 0 1; do
  grep -q "rank $r resumed at step" job.out || fail "rank $r did not resume"
  grep -q "rank $r done" job.out || fail "rank $r did not finish"
  for s in $(seq 40); do
    n=$(grep -c "^rank $r step $s\$" job.out || true)
    [ "$n" -eq 1 ] || fail "rank $r ran step $s $n times (expected exactly once)"
  done
done
echo "slurm_requeue: passed"
