#!/usr/bin/env bash
# Slurm smoke test: starts a single-node cluster, runs a 2-task batch job whose
# step is an MPI program started by srun --mpi=pmix, checks that both ranks
# saw a world of 2, and stops the cluster. Exit 77 (skipped) without root or Slurm.
# Usage: slurm_smoke.sh PATH/TO/mpi_hello
set -euo pipefail
hello=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm_smoke: skipped (needs root and slurm-wlm munge: scripts/install-deps.sh --with-slurm)"
  exit 77
fi
work=$(mktemp -d /tmp/rampart-slurm-smoke.XXXXXX)
cleanup() { "$here/slurm_cluster.sh" stop "$work/cluster" >/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# A port of our own, so a cluster started by someone else on this machine does not collide.
export RAMPART_SLURM_PORT=${RAMPART_SLURM_PORT:-$((20000 + ($$ % 5000) * 2))}
"$here/slurm_cluster.sh" start "$work/cluster"
export SLURM_CONF=$work/cluster/slurm.conf

cd "$work"
id=$(sbatch --parsable -n 2 -J rampart-smoke -o "$work/job.out" --wrap "srun --mpi=pmix $hello")
echo "slurm_smoke: submitted job $id"
for _ in $(seq 120); do
  [ -z "$(squeue -h -j "$id" 2>/dev/null)" ] && break
  sleep 0.5
done
info=$(scontrol show job "$id")
state=$(grep -o 'JobState=[A-Z_]*' <<<"$info" | cut -d= -f2)
code=$(grep -o ' ExitCode=[0-9:]*' <<<"$info" | cut -d= -f2)
echo "slurm_smoke: job $id ended $state, exit code $code; output:"
cat "$work/job.out"
fail() { echo "slurm_smoke: FAILED: $*" >&2; exit 1; }
[ "$state" = COMPLETED ] || fail "job state $state, expected COMPLETED"
[ "$code" = 0:0 ] || fail "exit code $code, expected 0:0"
for r in 0 1; do
  grep -q "hello: rank $r of 2 (slurm, local $r of 2), mpi rank $r of 2, sum 2" "$work/job.out" ||
    fail "no line from rank $r of 2"
done
echo "slurm_smoke: passed"
