#!/usr/bin/env bash
# launch/slurm/train.sbatch with the real trainer on a real single-node Slurm
# cluster (started and stopped here), 2 tasks: USR1 to the batch script (what
# --signal=B:USR1@N sends) -> the ranks checkpoint and exit 75 -> the script
# requeues the job -> the rerun resumes from the checkpoint -> completion. The
# final weights and momentum must equal bit for bit those of an uninterrupted run
# with the same settings, run with mpirun -np 2 directly.
# With "hosts": a Slurm cluster of 2 nodes, each a network host of its own with its own slurmd
# (tests/scripts/netns_hosts.sh), the job on both (-N 2), its ranks talking TCP between the hosts.
# Exit 77 without root, Slurm or Fashion-MNIST.
# Usage: RAMPART_BIN=... CHECKPOINT_DIFF=... RAMPART_TEST_DATA_DIR=... slurm_train_preempt.sh [hosts]
set -euo pipefail
TEST_NAME=slurm_train_preempt
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=mpi_train_lib.sh
source "$here/mpi_train_lib.sh"
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "skipped (needs root and slurm-wlm munge: scripts/install-deps.sh --with-slurm)"
  exit 77
fi
mode=${1:-one-node}
ensure_data
# Several hosts have a /tmp each (netns_hosts.sh): the job's files go where all of them see them.
work=$(mktemp -d /var/tmp/rampart-slurm-train.XXXXXX)
id=""
nodes=1
cleanup() {
  [ -n "$id" ] && scancel "$id" 2>/dev/null || true
  "$here/slurm_cluster.sh" stop "$work/cluster" >/dev/null || true
  [ "$mode" = hosts ] && "$here/netns_hosts.sh" stop "$work/net" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
T0=$(now)
# 2 epochs of 10 steps (global batch 128), a checkpoint every 5 steps as well.
train_args=(--limit 1280 --epochs 2 --checkpoint-every 5 --eval-limit 64 --eval-fgsm false --log-every 1 --threads 1)

# The reference: the same settings under mpirun, never interrupted.
t0=$(now)
"${MPIRUN[@]}" -np 2 "$RAMPART_BIN" train --config "$root/configs/fmnist-pgd.ini" --data "$TRAIN_H5" \
  --test-data "$TEST_H5" --out "$work/ref" "${train_args[@]}" >"$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; die "the uninterrupted mpirun run failed"; }
say "uninterrupted run under mpirun: $(since "$t0") s"

export RAMPART_SLURM_PORT=${RAMPART_SLURM_PORT:-$((20000 + ($$ % 5000) * 2))}
if [ "$mode" = hosts ]; then
  TEST_NAME="slurm_train_preempt hosts"
  command -v ip >/dev/null || { say "skipped (needs iproute2 for network hosts)"; exit 77; }
  "$here/netns_hosts.sh" start "$work/net" 2 >/dev/null || die "could not make 2 network hosts"
  # shellcheck disable=SC1091
  source "$work/net/env"
  export RAMPART_SLURM_HOSTS=$work/net
  # The ranks' MPI traffic between the hosts: TCP over their links (srun passes the environment on).
  export OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=$RAMPART_NETNS_SUBNET
  nodes=2
fi
"$here/slurm_cluster.sh" start "$work/cluster"
export SLURM_CONF=$work/cluster/slurm.conf
fail() {
  echo "--- job output:"; cat "$work/job.out" 2>/dev/null || true
  echo "--- slurmd log:"; cat "$work/cluster/log/"slurmd.*log | grep -v debug 2>/dev/null | tail -n 30 || true
  die "$*"
}
# shellcheck source=slurm_job_lib.sh
source "$here/slurm_job_lib.sh"

cd "$work"
id=$(sbatch --parsable -N "$nodes" -n 2 -o "$work/job.out" \
  --export=ALL,RAMPART_BIN="$RAMPART_BIN",RAMPART_CONFIG="$root/configs/fmnist-pgd.ini",RAMPART_DATA="$TRAIN_H5",RAMPART_TEST_DATA="$TEST_H5",RAMPART_OUT="$work/run" \
  "$root/launch/slurm/train.sbatch" "${train_args[@]}")
say "submitted job $id"
# Past the first periodic checkpoint (step 5), then what --signal=B:USR1@N would send.
for _ in $(seq 600); do
  [ -f "$work/run/metrics.jsonl" ] && grep -q '"step":6' "$work/run/metrics.jsonl" && break
  [ -n "$(squeue -h -j "$id" 2>/dev/null)" ] || break
  sleep 0.2
done
grep -q '"step":6' "$work/run/metrics.jsonl" 2>/dev/null || fail "the ranks did not reach step 6"
scancel --batch --signal=USR1 "$id"
say "sent USR1 to the batch script at step 6"

await_requeued 60
stopped=$(sed -n 's/.*stopped by a signal at step \([0-9]*\).*/\1/p' "$work/job.out" | head -n1)
say "job requeued after the ranks stopped at step ${stopped:-?}"
await_end 300
say "job $id ended $state after $(field Restarts) requeue(s); output:"
cat "$work/job.out"
[ "$state" = COMPLETED ] || fail "job state $state, expected COMPLETED"
grep -q "step ended with exit code 75" job.out || fail "the first run did not end with exit code 75"
grep -q "requeueing" job.out || fail "the batch script did not requeue"
[ -n "$stopped" ] && [ "$stopped" -lt 20 ] || fail "the ranks did not stop before the end"
grep -q "resumed from $work/run/checkpoint.h5 at step $stopped" job.out || fail "the rerun did not resume at step $stopped"
[ -f "$work/run/summary.json" ] || fail "no summary.json after the rerun"
steps=$(grep -o '"event":"step".*"step":[0-9]*' "$work/run/metrics.jsonl" | grep -o '"step":[0-9]*' | cut -d: -f2 | sort -n | tr '\n' ' ')
[ "$steps" = "$(seq 1 20 | tr '\n' ' ')" ] || fail "steps logged across both runs: $steps (expected 1..20 once each)"
"$CHECKPOINT_DIFF" "$work/ref/checkpoint.h5" "$work/run/checkpoint.h5" --exact ||
  fail "the requeued run's final weights differ from the uninterrupted run's"
if [ "$mode" = hosts ]; then
  grep -q "on h\[1-2\]" job.out || fail "the job did not run on both hosts h1 and h2"
fi
say "passed in $(since "$T0") s (stopped at step $stopped of 20, requeued, resumed, bit-identical; $nodes node(s))"
