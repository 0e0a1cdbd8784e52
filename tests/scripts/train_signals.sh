#!/usr/bin/env bash
# Stop signals in every phase of `rampart train` (one rank): during the final evaluation the run
# stops within seconds with exit 75 after its final checkpoint, and --resume evaluates it; without
# --out, exit 75 says that nothing was saved; a metrics file that cannot be written ends the run
# with 74 instead of losing the record silently.
# Usage: train_signals.sh RAMPART FASHION_MNIST_DIR
set -euo pipefail
bin=$1; fmnist=$2
[ -f "$fmnist/t10k-images-idx3-ubyte.gz" ] || { echo "skipped: no Fashion-MNIST in $fmnist"; exit 77; }
work=$(mktemp -d /tmp/rampart-signals.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "train_signals: FAILED: $*" >&2; exit 1; }
"$bin" data import --images "$fmnist/t10k-images-idx3-ubyte.gz" --labels "$fmnist/t10k-labels-idx1-ubyte.gz" \
  --out "$work/test.h5" >/dev/null
common=(--data "$work/test.h5" --test-data "$work/test.h5" --limit 256 --steps 1 --threads 1 --log-every 1)

# waits for TEXT in FILE for up to SECONDS (the machine may be busy: generous)
wait_for() { local deadline=$((SECONDS + $3)); until grep -q -- "$2" "$1" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || return 1; kill -0 "$pid" 2>/dev/null || return 1; sleep 0.1; done; }

# 1. SIGTERM in the final evaluation (PGD-200 on 10,000 images takes minutes: it must not finish).
# The stop is honoured between evaluation batches: batches of 32 keep one batch well inside the
# 60 s allowed below even under ThreadSanitizer (one of 128 took 40-63 s there).
"$bin" train "${common[@]}" --epochs 1 --batch 32 --eval-steps 200 --out "$work/run" >"$work/eval.out" 2>"$work/eval.err" &
pid=$!
wait_for "$work/eval.err" "final checkpoint written, evaluating\|epoch 1 done" 120 || { cat "$work/eval.err"; fail "training did not finish"; }
sleep 1
t0=$SECONDS
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
pid=""
cat "$work/eval.err"
[ "$rc" -eq 75 ] || fail "SIGTERM in the final evaluation: exit $rc, expected 75"
[ $((SECONDS - t0)) -le 60 ] || fail "the evaluation took $((SECONDS - t0)) s to stop"
grep -q "stopped by a signal during the evaluation" "$work/eval.err" || fail "no message about the evaluation"
grep -q "run again with --resume to evaluate it" "$work/eval.err" || fail "the message does not say how to go on"
[ -f "$work/run/checkpoint.h5" ] || fail "no final checkpoint"
"$bin" train "${common[@]}" --epochs 1 --batch 32 --eval-limit 100 --out "$work/run" --resume --json >"$work/resumed.json" 2>"$work/resumed.err" ||
  { cat "$work/resumed.err"; fail "--resume after the interrupted evaluation failed"; }
grep -q '"n":100' "$work/resumed.json" || fail "--resume did not evaluate: $(cat "$work/resumed.json")"

# 2. SIGTERM without --out: exit 75, and the message says nothing was saved.
"$bin" train "${common[@]}" --epochs 50 >"$work/noout.out" 2>"$work/noout.err" &
pid=$!
wait_for "$work/noout.err" "step 2/" 120 || { cat "$work/noout.err"; fail "training did not start"; }
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
pid=""
tail -n 2 "$work/noout.err"
[ "$rc" -eq 75 ] || fail "SIGTERM without --out: exit $rc, expected 75"
grep -q "nothing was saved (no --out)" "$work/noout.err" || fail "the message does not say that nothing was saved"

# 3. A metrics file that cannot be written (/dev/full: every write fails with ENOSPC): 74.
mkdir -p "$work/full"
ln -s /dev/full "$work/full/metrics.jsonl"
set +e
"$bin" train "${common[@]}" --epochs 1 --out "$work/full" >/dev/null 2>"$work/full.err"; rc=$?
set -e
cat "$work/full.err"
[ "$rc" -eq 74 ] || fail "an unwritable metrics file: exit $rc, expected 74"
grep -q "writing $work/full/metrics.jsonl failed" "$work/full.err" || fail "the message does not name the file"
# 4. A budgeted plan for a million epochs: planning is quick and stays small (the plan is kept as
# runs of epochs planned alike), so SIGTERM right after it stops the run at the next step. Its
# size is the check, not its time: one row per epoch made every record and checkpoint hundreds of
# megabytes and kept the signal waiting for minutes.
"$bin" train "${common[@]}" --epochs 1000000 --budget-hours 1000 --out "$work/huge" >"$work/huge.out" 2>"$work/huge.err" &
pid=$!
wait_for "$work/huge.err" "step 1/" 300 || { tail -c 2000 "$work/huge.err"; fail "the million-epoch run did not start training"; }
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
pid=""
tail -n 1 "$work/huge.err"
[ "$rc" -eq 75 ] || fail "SIGTERM after planning a million epochs: exit $rc, expected 75"
bytes=$(stat -c %s "$work/huge/metrics.jsonl")
[ "$bytes" -lt 1000000 ] || fail "metrics.jsonl holds $bytes bytes for a million-epoch plan (one row per epoch?)"
# The same model's checkpoint from case 1 (a 1-epoch plan): the plan may add little to it.
bytes=$(stat -c %s "$work/huge/checkpoint.h5"); one=$(stat -c %s "$work/run/checkpoint.h5")
[ "$bytes" -lt $((one + 1000000)) ] || fail "the checkpoint holds $bytes bytes for a million-epoch plan, $one for one epoch"

[ "$(wc -l <"$work/huge.err")" -lt 200 ] || fail "the million-epoch plan printed $(wc -l <"$work/huge.err") lines"
echo "train_signals: passed"
