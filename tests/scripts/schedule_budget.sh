#!/usr/bin/env bash
# A budgeted run (--budget-hours) on a Fashion-MNIST subset must stop within its budget
# (measured wall time of the whole process <= budget), end with a checkpoint and a final
# evaluation, and report spend against plan in metrics.jsonl.
# usage: schedule_budget.sh RAMPART SOURCE_DIR BUDGET_HOURS
RAMPART=$1; SRC=$2; BUDGET_H=${3:-0.012}
source "$(dirname "$0")/schedule_lib.sh"
import_data
t0=$(date +%s.%N)
"$RAMPART" train --config "$SRC/configs/fmnist-pgd.ini" --data "$work/train.h5" --test-data "$work/test.h5" \
  --limit 1000 --eval-limit 100 --budget-hours "$BUDGET_H" --probe-every 4 --out "$work/run" --json \
  > "$work/out.json" 2> "$work/err.txt" || { cat "$work/err.txt"; fail "train exited $?"; }
t1=$(date +%s.%N)
cat "$work/err.txt"
s="$work/run/summary.json"
[[ -f $work/run/checkpoint.h5 ]] || fail "no checkpoint"
[[ -f $s ]] || fail "no summary.json"
wall=$(python3 -c "print($t1 - $t0)")
echo "process wall ${wall}s, budget $(python3 -c "print($BUDGET_H * 3600)")s"
# The trainer keeps its own spend inside the budget (spent_hours, below); the process's wall
# adds start-up and exit, which a loaded machine stretches: 10% of slack for those.
python3 -c "import sys; sys.exit(0 if $wall <= 1.1 * $BUDGET_H * 3600 else 1)" || fail "the run took ${wall}s, over its budget"
[[ $(py "d['schedule']['within_budget']" "$s") == True ]] || fail "within_budget is false"
[[ $(py "d['schedule']['policy']" "$s") == budgeted ]] || fail "a budget without --schedule must mean budgeted"
[[ $(py "d['n']" "$s") == 100 ]] || fail "no final evaluation of 100 images"
py "d['pgd_accuracy'] >= 0 and d['clean_accuracy'] >= 0" "$s" | grep -q True || fail "no accuracies"
spent=$(py "d['spent_hours']" "$s")
python3 -c "import sys; sys.exit(0 if $spent <= $BUDGET_H else 1)" || fail "spent_hours $spent over $BUDGET_H"
# Spend against plan, every epoch (or the stop), in metrics.jsonl.
# A loaded machine can leave room for less than one epoch: then the stop is the record (the
# summary is indented JSON, so it is read as JSON, not grepped).
grep '"event":"epoch"' "$work/run/metrics.jsonl" | head -1 | grep -q '"spent_gpu_hours"' ||
  [[ $(py "d['schedule']['stop_reason']" "$s") == budget ]] || fail "no epoch line with spent_gpu_hours in metrics.jsonl"
grep -q '"planned_gpu_hours"' "$work/run/metrics.jsonl" || fail "no planned_gpu_hours in metrics.jsonl"
grep -q '"eps"' "$work/run/metrics.jsonl" || fail "no eps in metrics.jsonl"
echo "schedule_budget: ok (stop: $(py "d['schedule']['stop_reason']" "$s"), epochs $(py "d['schedule']['epochs_completed']" "$s"))"
