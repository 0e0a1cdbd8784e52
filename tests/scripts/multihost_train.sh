#!/usr/bin/env bash
# Training across network hosts (tests/scripts/netns_hosts.sh: one network namespace per host, the
# ranks talking TCP over veth links through a bridge, no shared memory between them):
#   1. 2 hosts x 1 rank train the same bits as 2 ranks on one host (PGD-7, crop-flip), and the
#      gradients really crossed the link (the hosts' sent bytes);
#   2. the same with carried perturbations (--attack-init carry: the store's rows are exchanged
#      between the hosts every step);
#   3. preemption of one host: SIGUSR1 to the rank on h2 alone -> every rank checkpoints at the same
#      step and exits 75 -> --resume on the hosts -> bit for bit the uninterrupted one-host run.
# Exit 77 without root or namespaces.
# Usage: RAMPART_BIN=... CHECKPOINT_DIFF=... RAMPART_TEST_DATA_DIR=... multihost_train.sh
set -euo pipefail
TEST_NAME=multihost_train
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=mpi_train_lib.sh
source "$here/mpi_train_lib.sh"
# shellcheck source=multihost_lib.sh
source "$here/multihost_lib.sh"
hosts_begin multihost 2
say "hosts: $(awk '{ printf "%s %s  ", $1, $3 }' "$work/net/hosts")"
status=0

# 1. PGD-7 with crop-flip, 8 steps of 64.
run 2 local --limit 512 --epochs 1 --augment crop-flip
tx0=$(host_tx_bytes h2)
run_hosts 2 hosts --limit 512 --epochs 1 --augment crop-flip
tx=$(( $(host_tx_bytes h2) - tx0 ))
diff_ck local hosts --exact
# Each of the 8 steps all-reduces the gradients (small-cnn: 1.69 MB); h2 sends at least half.
grad_bytes=$(/usr/bin/python3 -c "import h5py, sys; m = h5py.File(sys.argv[1])['model']; print(4 * sum(m[k].size for k in m))" \
  "$work/hosts/checkpoint.h5" 2>/dev/null || echo 0)
say "h2 sent $tx bytes over its link (gradients: $grad_bytes bytes a step, 8 steps)"
if [ "$grad_bytes" -le 0 ] || [ "$tx" -lt $(( grad_bytes * 8 / 2 )) ]; then
  say "  ^ expected at least half the gradients of 8 steps to cross the link"
  status=1
fi

# 2. Carried perturbations, 2 epochs: the same weights and the same store as on one host.
run 2 carry-local --limit 512 --epochs 2 --attack-init carry --steps 2 --alpha 0.05
run_hosts 2 carry-hosts --limit 512 --epochs 2 --attack-init carry --steps 2 --alpha 0.05
diff_ck carry-local carry-hosts --exact
fp() { /usr/bin/python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['carried']; print(c['stored'], c['shards'], c['fingerprint'])" "$work/$1.json"; }
say "carried store: one host $(fp carry-local), two hosts $(fp carry-hosts)"
[ "$(fp carry-local)" = "$(fp carry-hosts)" ] || { say "  ^ the stores differ"; status=1; }

# 3. Preempt one host mid-epoch, resume on the hosts.
args=(train --config "$root/configs/fmnist-pgd.ini" --data "$TRAIN_H5" --epochs 2 --limit 512 --batch 64
      --log-every 1 --threads 1 --augment crop-flip)
"${MPIRUN[@]}" -np 2 "$RAMPART_BIN" "${args[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; die "the uninterrupted one-host run failed"; }
"${MPIRUN_HOSTS[@]}" -np 2 "$RAMPART_BIN" "${args[@]}" --out "$work/pre" >"$work/pre1.log" 2>&1 &
mp=$!
wait_for_step "$work/pre" 3 "$mp" 120 || { cat "$work/pre1.log"; die "training did not reach step 3"; }
pid=$(rank_pid "$work/pre" 1) || die "no process of rank 1 found"
"$NETNS_HOSTS" pids "$work/net" h2 | grep -qx "$pid" || die "rank 1 (pid $pid) is not on host h2"
say "SIGUSR1 to rank 1 on h2 (pid $pid) only"
kill -USR1 "$pid"
rc=0
wait "$mp" || rc=$?
mp=""
[ "$rc" -eq 75 ] || { cat "$work/pre1.log"; die "mpirun exited $rc after SIGUSR1 on h2, expected 75"; }
stopped=$(sed -n 's/.*stopped by a signal at step \([0-9]*\).*/\1/p' "$work/pre1.log" | head -n1)
[ -n "$stopped" ] && [ "$stopped" -lt 16 ] || { cat "$work/pre1.log"; die "no stop before the end"; }
"${MPIRUN_HOSTS[@]}" -np 2 "$RAMPART_BIN" "${args[@]}" --out "$work/pre" --resume >"$work/pre2.log" 2>&1 ||
  { cat "$work/pre2.log"; die "the resumed run on the hosts failed"; }
grep -q "resumed from" "$work/pre2.log" || die "the second run did not resume"
say "stopped at step $stopped of 16 on both hosts, resumed"
diff_ck ref pre --exact

[ "$status" -eq 0 ] || die "see above"
say "passed in $(since "$T0") s"
