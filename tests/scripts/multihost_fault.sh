#!/usr/bin/env bash
# A network fault while 2 hosts x 1 rank train (tests/scripts/netns_hosts.sh):
#   link-down   h2's link is cut (its eth0 down: packets vanish, no connection is reset)
#   kill-host   every process on h2 is SIGKILLed (the rank and Open MPI's daemon: a dead host)
#   stall-host  every process on h2 is SIGSTOPped (a host that hangs)
# The job must end within --timeout + 10 s of the fault with a non-zero exit and a message naming
# the unreachable rank or host; the last checkpoint must stay good; after the fault is cleared,
# --resume must reach the same final weights as an uninterrupted run.
# Who ends the job: mpirun launches the hosts' daemons through netns_hosts.sh's agent, which keeps
# the session alive as ssh -o ServerAliveInterval=1 -o ServerAliveCountMax=3 does (a host that gives
# no answer for about 6 s is given up). A killed host ends the job at once (Open MPI sees its
# daemon's and rank's connections close). A stalled host: rampart's watchdog fires first (--timeout
# 2 s) and its heartbeats name the silent rank; the agent then gives the stopped daemon up. A cut
# link: --timeout 15 s, so the agent gives the host up first. (With the watchdog first on a cut
# link, mpirun 4.1 never ends: after the abort it waits for the unreachable daemon and ignores its
# agent's exit. Hence the advice in launch/mpirun.md: a launcher keepalive shorter than --timeout.)
# Prints one line
#   multihost_fault: RESULT fault=F end_s=S rc=RC resumed_exact=yes message="..."
# for the README's fault table (benchmarks/fault_table.sh collects them).
# Usage: RAMPART_BIN=... CHECKPOINT_DIFF=... RAMPART_TEST_DATA_DIR=... multihost_fault.sh FAULT [TIMEOUT_S]
set -euo pipefail
TEST_NAME=multihost_fault
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=mpi_train_lib.sh
source "$here/mpi_train_lib.sh"
# shellcheck source=multihost_lib.sh
source "$here/multihost_lib.sh"
fault=${1:?usage: multihost_fault.sh link-down|kill-host|stall-host [TIMEOUT_S]}
case $fault in
  link-down) timeout_s=${2:-15} ;;
  kill-host) timeout_s=${2:-5} ;;
  stall-host) timeout_s=${2:-2} ;;
  *) die "unknown fault '$fault'" ;;
esac
TEST_NAME="multihost_fault $fault"
hosts_begin fault 2
# 3 epochs of 8 steps, a checkpoint every 4 steps; the fault lands after the step-8 checkpoint.
args=(train --config "$root/configs/fmnist-pgd.ini" --data "$TRAIN_H5" --epochs 3 --limit 512 --batch 64
      --log-every 1 --threads 1 --checkpoint-every 4 --timeout "$timeout_s")

"${MPIRUN[@]}" -np 2 "$RAMPART_BIN" "${args[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; die "the uninterrupted one-host run failed"; }

"${MPIRUN_HOSTS[@]}" -np 2 "$RAMPART_BIN" "${args[@]}" --out "$work/run" >"$work/run1.log" 2>&1 &
mp=$!
wait_for_step "$work/run" 10 "$mp" 120 || { cat "$work/run1.log"; die "training did not reach step 10"; }
case $fault in
  link-down)  "$NETNS_HOSTS" link "$work/net" h2 down ;;
  kill-host)  "$NETNS_HOSTS" signal "$work/net" h2 KILL ;;
  stall-host) "$NETNS_HOSTS" signal "$work/net" h2 STOP ;;
esac
t0=$(now)
say "fault at step 10: $fault on h2"
limit=$((timeout_s + 10))
while kill -0 "$mp" 2>/dev/null && awk -v a="$t0" -v b="$(now)" -v m="$((limit + 20))" 'BEGIN { exit !(b - a < m) }'; do
  sleep 0.1
done
end_s=$(since "$t0")
hung=0
kill -0 "$mp" 2>/dev/null && hung=1
rc=0
if [ "$hung" -eq 0 ]; then wait "$mp" || rc=$?; fi
mp_was=$mp
mp=""
cat "$work/run1.log"
if [ "$hung" -eq 1 ]; then
  kill -KILL "$mp_was" 2>/dev/null || true
  die "the job still runs $end_s s after the fault (a hang; limit $limit s)"
fi
say "mpirun exited $rc, $end_s s after the fault (limit $limit s)"
[ "$rc" -ne 0 ] || die "the job exited 0 after the fault"
awk -v e="$end_s" -v m="$limit" 'BEGIN { exit !(e < m) }' || die "the job took $end_s s to end (limit $limit s)"
# The message names the rank on h2 (rank 1) or the host h2 itself.
message=$(grep -E "rank 1\b|\bh2\b|10\.213\.[0-9]+\.2\b" "$work/run1.log" | grep -Ei "unreachable|did not|lost|died|stalled|killed|exited|abort|not responding|closed|not heard" | head -n1 || true)
[ -n "$message" ] || die "no message naming rank 1 or host h2"
say "message: $message"
# rampart's own diagnosis (heartbeats), where its watchdog is the first to see the fault.
own=$(grep -E "^rampart: rank 0: .*not heard from: rank 1 on h2 " "$work/run1.log" | head -n1 || true)
if [ "$fault" = stall-host ]; then
  [ -n "$own" ] || die "rampart's watchdog did not name rank 1 on h2"
  message=$own
fi

# Clear the fault on the hosts, then the checkpoint must be good and the run must resume exactly.
case $fault in
  link-down)  "$NETNS_HOSTS" link "$work/net" h2 up ;;
  stall-host) "$NETNS_HOSTS" signal "$work/net" h2 CONT; "$NETNS_HOSTS" signal "$work/net" h2 KILL || true ;;
esac
# The checkpoint there is whole and readable (checkpoint_diff loads every tensor), and the resume
# below, bit for bit equal to the uninterrupted run, shows it was a good one.
ck=$("$CHECKPOINT_DIFF" "$work/run/checkpoint.h5" "$work/run/checkpoint.h5" --exact | tail -n 2 | head -n 1) ||
  die "the checkpoint left by the fault cannot be read"
say "checkpoint after the fault: ${ck#checkpoint_diff: }"
"${MPIRUN_HOSTS[@]}" -np 2 "$RAMPART_BIN" "${args[@]}" --out "$work/run" --resume >"$work/run2.log" 2>&1 ||
  { cat "$work/run2.log"; die "the resumed run failed"; }
grep "resumed from" "$work/run2.log" || die "the second run did not resume"
"$CHECKPOINT_DIFF" "$work/ref/checkpoint.h5" "$work/run/checkpoint.h5" --exact ||
  die "after the fault and --resume, the weights differ from the uninterrupted run's"
say "RESULT fault=$fault end_s=$end_s rc=$rc resumed_exact=yes message=\"${message//\"/\'}\""
say "passed in $(since "$T0") s"
