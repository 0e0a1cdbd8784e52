# Shared by the multi-rank training tests (mpi_train_*.sh, slurm_train_preempt.sh); sourced, not run.
# Needs RAMPART_BIN (build/bin/rampart), CHECKPOINT_DIFF (build/bin/checkpoint_diff) and
# RAMPART_TEST_DATA_DIR (a folder for train.h5 and test.h5, made from Fashion-MNIST once).
# shellcheck shell=bash
: "${RAMPART_BIN:?set RAMPART_BIN to build/bin/rampart}"
: "${CHECKPOINT_DIFF:?set CHECKPOINT_DIFF to build/bin/checkpoint_diff}"
: "${RAMPART_TEST_DATA_DIR:?set RAMPART_TEST_DATA_DIR}"
RAMPART_FMNIST=${RAMPART_FMNIST:-/usr/share/datasets/fashion-mnist}
TRAIN_H5=$RAMPART_TEST_DATA_DIR/train.h5
TEST_H5=$RAMPART_TEST_DATA_DIR/test.h5

# ../shared/PLATFORM.md: root needs the ALLOW variables; more ranks than cores need
# oversubscription and yielding. --bind-to none lets rampart pick its threads.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
MPIRUN=(mpirun --oversubscribe --bind-to none)

say() { echo "${TEST_NAME:-mpi_train}: $*"; }
die() { echo "${TEST_NAME:-mpi_train}: FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Imports Fashion-MNIST to $TRAIN_H5 and $TEST_H5 once (under a lock: tests run in parallel).
ensure_data() {
  [ -f "$TRAIN_H5" ] && [ -f "$TEST_H5" ] && return 0
  [ -f "$RAMPART_FMNIST/train-images-idx3-ubyte.gz" ] ||
    { echo "${TEST_NAME:-mpi_train}: skipped: no Fashion-MNIST in $RAMPART_FMNIST (scripts/install-deps.sh)"; exit 77; }
  mkdir -p "$RAMPART_TEST_DATA_DIR"
  (
    flock 9
    for split in train:train t10k:test; do
      src=${split%%:*} dst=$RAMPART_TEST_DATA_DIR/${split##*:}.h5
      [ -f "$dst" ] && continue
      "$RAMPART_BIN" data import --images "$RAMPART_FMNIST/$src-images-idx3-ubyte.gz" \
        --labels "$RAMPART_FMNIST/$src-labels-idx1-ubyte.gz" --out "$dst.tmp.$$" >/dev/null &&
        mv "$dst.tmp.$$" "$dst" || exit 1
    done
  ) 9>"$RAMPART_TEST_DATA_DIR/.lock" || die "rampart data import failed"
}

# Waits until OUT/metrics.jsonl reports step >= N (log-every 1) or PID ends; 1 on timeout.
wait_for_step() {
  local out=$1 n=$2 pid=$3 limit=${4:-120} t0
  t0=$(now)
  while :; do
    if [ -f "$out/metrics.jsonl" ] &&
       grep -o '"step":[0-9]*' "$out/metrics.jsonl" | cut -d: -f2 | awk -v n="$n" '$1 >= n { f = 1 } END { exit !f }'; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    awk -v a="$t0" -v b="$(now)" -v m="$limit" 'BEGIN { exit !(b - a > m) }' && return 1
    sleep 0.1
  done
}

# The PID of rank R of a job whose command line holds OUT (a unique --out folder).
rank_pid() {
  local out=$1 r=$2 p
  for p in $(pgrep -f -- "--out $out( |\$)"); do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = rampart ] || continue
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$r"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# The tests' short training run and checkpoint comparison; the caller sets root (the
# repository), work (a scratch folder) and status (set to 1 by a failed comparison).
# run NP NAME [train flags]: the reference protocol's config, batch 64, 1 thread a rank.
# diff_ck A B MODE [informational]: checkpoint_diff of two runs, MODE --exact or "--tol T".
run() { run_on MPIRUN "$@"; }  # NP NAME [train flags]
# run_on LAUNCHER NP NAME [train flags]: the same with the launch command in the array LAUNCHER
# (multihost_lib.sh's MPIRUN_HOSTS: one rank per network host).
run_on() {
  local -n launcher=$1
  local via=$1 np=$2 name=$3 t0
  shift 3
  t0=$(now)
  "${launcher[@]}" -np "$np" "$RAMPART_BIN" train --config "$root/configs/fmnist-pgd.ini" --data "$TRAIN_H5" \
    --out "$work/$name" --batch 64 --threads 1 --json "$@" >"$work/$name.json" 2>"$work/$name.log" ||
    { cat "$work/$name.log"; die "training $name with $np ranks ($via) failed"; }
  say "$name: $np rank(s) ($via), $(since "$t0") s"
}
diff_ck() {  # A B MODE [informational]
  local line rc=0
  line=$("$CHECKPOINT_DIFF" "$work/$1/checkpoint.h5" "$work/$2/checkpoint.h5" $3 | tail -n 2 | head -n 1) || rc=$?
  say "$1 vs $2 ($3${4:+, not checked}): ${line#checkpoint_diff: }"
  if [ "$rc" -ne 0 ] && [ -z "${4:-}" ]; then
    say "  ^ beyond what is allowed"
    status=1
  fi
}
