#!/usr/bin/env bash
# A rank SIGKILLed a few steps into `mpirun -np 2 rampart train` must end the whole
# job with a non-zero exit within 30 s, with a message naming the rank. The test
# fails (and kills what is left) if the job hangs.
# Usage: RAMPART_BIN=... CHECKPOINT_DIFF=... RAMPART_TEST_DATA_DIR=... mpi_train_dead_rank.sh [RANK]
set -euo pipefail
TEST_NAME=mpi_train_dead_rank
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=mpi_train_lib.sh
source "$here/mpi_train_lib.sh"
victim=${1:-1}
max=30
ensure_data
work=$(mktemp -d /tmp/rampart-dead-rank.XXXXXX)
mp=""
cleanup() {
  if [ -n "$mp" ] && kill -0 "$mp" 2>/dev/null; then
    kill -KILL "$mp" 2>/dev/null || true
    pkill -KILL -f -- "--out $work/run( |\$)" 2>/dev/null || true   # only this test's ranks
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Long enough that it cannot finish before the kill (many epochs of 1280 images).
"${MPIRUN[@]}" -np 2 "$RAMPART_BIN" train --config "$root/configs/fmnist-pgd.ini" --data "$TRAIN_H5" \
  --out "$work/run" --epochs 50 --limit 1280 --batch 64 --log-every 1 --threads 1 >"$work/job.log" 2>&1 &
mp=$!
wait_for_step "$work/run" 2 "$mp" 120 || { cat "$work/job.log"; die "training did not reach step 2"; }
pid=$(rank_pid "$work/run" "$victim") || { cat "$work/job.log"; die "no process of rank $victim found"; }
say "training is at step 2; SIGKILL to rank $victim (pid $pid)"
kill -KILL "$pid"
t0=$(now)
# Wait for mpirun, at most max + 15 s.
while kill -0 "$mp" 2>/dev/null && awk -v a="$t0" -v b="$(now)" -v m="$((max + 15))" 'BEGIN { exit !(b - a < m) }'; do
  sleep 0.1
done
elapsed=$(since "$t0")
if kill -0 "$mp" 2>/dev/null; then
  cat "$work/job.log"
  die "the job still runs $elapsed s after rank $victim died (a hang)"
fi
rc=0
wait "$mp" || rc=$?
mp=""
cat "$work/job.log"
say "mpirun exited with $rc, $elapsed s after the kill (limit $max s)"
[ "$rc" -ne 0 ] || die "the job exited 0"
awk -v e="$elapsed" -v m="$max" 'BEGIN { exit !(e < m) }' || die "the job took $elapsed s to end (limit $max s)"
grep -Eq "rank $victim .*(exited on signal|killed)" "$work/job.log" || die "no message naming rank $victim"
say "passed"
