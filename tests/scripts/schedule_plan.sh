#!/usr/bin/env bash
# rampart plan --json: the keys scripts rely on, never over the budget, at 1 and 64 ranks;
# the table form; invalid budgets and prices exit 78 with a one-line message naming the flag.
# usage: schedule_plan.sh RAMPART SOURCE_DIR
RAMPART=$1; SRC=$2
source "$(dirname "$0")/schedule_lib.sh"
import_data
cfg=(--config "$SRC/configs/fmnist-pgd.ini" --data "$work/train.h5")
for ranks in 1 64; do
  "$RAMPART" plan "${cfg[@]}" --budget-usd 20 --price-per-gpu-hour 2.5 --ranks "$ranks" --json > "$work/plan.json" ||
    fail "plan --ranks $ranks exited $?"
  for k in rows total_usd total_gpu_hours total_hours; do
    [[ $(py "'$k' in d" "$work/plan.json") == True ]] || fail "plan --json lacks $k"
  done
  [[ $(py "d['total_usd'] <= 20 * (1 + 1e-9)" "$work/plan.json") == True ]] || fail "plan total over \$20"
  [[ $(py "len(d['rows']) >= 1 and all(r['usd'] > 0 for r in d['rows'])" "$work/plan.json") == True ]] ||
    fail "no priced rows"
  # The predicted step at --ranks (bench_multihost.sh compares it with measured steps): an
  # all-reduce only with more than one rank, never more exposed than there is, inside the step.
  [[ $(py "(p := d['predicted'])['step_s'] > 0 and 0 <= p['allreduce_exposed_s'] <= p['allreduce_s'] < p['step_s'] \
           and (p['allreduce_s'] > 0) == ($ranks > 1) and p['grad_bytes'] > 0" "$work/plan.json") == True ]] ||
    fail "plan --json predicted: $(py "d.get('predicted')" "$work/plan.json")"
  echo "ranks $ranks: $(py "d['total_usd'], d['epochs_that_fit'], [r['K'] for r in d['rows']]" "$work/plan.json")"
done
# Half of what 5 epochs of PGD-7 cost here, planned budgeted: within. Both plans use the same
# measured step costs (--step-costs, from the first plan), so the comparison holds however busy
# the machine is; the same costs must also give the same plan again.
small=(--limit 4000 --eval-limit 500 --price-per-gpu-hour 2.5)
"$RAMPART" plan "${cfg[@]}" "${small[@]}" --schedule fixed --json > "$work/full.json" || fail "plan without a budget exited $?"
"$RAMPART" plan "${cfg[@]}" "${small[@]}" --schedule fixed --step-costs "$work/full.json" --json > "$work/again.json" ||
  fail "plan --step-costs exited $?"
[[ $(py "d['total_usd']" "$work/again.json") == $(py "d['total_usd']" "$work/full.json") ]] ||
  fail "the same step costs gave another plan: \$$(py "d['total_usd']" "$work/again.json") against \$$(py "d['total_usd']" "$work/full.json")"
half=$(py "round(d['total_usd'] / 2, 6)" "$work/full.json")
"$RAMPART" plan "${cfg[@]}" "${small[@]}" --schedule budgeted --budget-usd "$half" --step-costs "$work/full.json" --json \
  > "$work/small.json" || fail "plan with a budget of \$$half exited $?"
[[ $(py "d['total_usd'] <= $half * (1 + 1e-9)" "$work/small.json") == True ]] || fail "the plan for \$$half is over budget"
[[ $(py "d['rows'][0]['K']" "$work/small.json") -ge 1 ]] || fail "the plan for \$$half has no attack steps"
"$RAMPART" plan "${cfg[@]}" --budget-hours 1 --limit 2000 | grep -q "^ *epoch  *eps  *K" || fail "no table"

expect78() {  # message-regex, flags...
  local re=$1; shift
  set +e
  "$RAMPART" plan "${cfg[@]}" "$@" > "$work/o.txt" 2> "$work/e.txt"
  local rc=$?
  set -e
  [[ $rc == 78 ]] || { cat "$work/e.txt"; fail "plan $* exited $rc, expected 78"; }
  [[ $(wc -l < "$work/e.txt") == 1 ]] || { cat "$work/e.txt"; fail "expected a one-line message for $*"; }
  grep -Eq -- "$re" "$work/e.txt" || { cat "$work/e.txt"; fail "message for $* does not match $re"; }
  echo "exit 78: $(cat "$work/e.txt")"
}
expect78 "--budget-usd must be a positive number" --budget-usd -5 --price-per-gpu-hour 2.5
expect78 "--budget-usd needs a price" --budget-usd 5
expect78 "--price-per-gpu-hour must be a positive number" --budget-usd 5 --price-per-gpu-hour 0
expect78 "needs --gpus-per-node" --budget-usd 5 --price-per-node-hour 20
expect78 "--budget-hours must be a positive number" --budget-hours nan
expect78 "--schedule expects fixed, budgeted or adaptive" --schedule greedy
expect78 "--max-steps-k must be at least 1" --max-steps-k 0
expect78 "does not cover one epoch" --budget-usd 0.0001 --price-per-gpu-hour 2.5
# --step-costs: a missing file is 66, a file that is not a plan's output 65, each with one line.
expect_rc() {  # rc, message-regex, flags...
  local want=$1 re=$2; shift 2
  set +e
  "$RAMPART" plan "${cfg[@]}" "$@" > "$work/o.txt" 2> "$work/e.txt"
  local rc=$?
  set -e
  [[ $rc == "$want" ]] || { cat "$work/e.txt"; fail "plan $* exited $rc, expected $want"; }
  [[ $(wc -l < "$work/e.txt") == 1 ]] && grep -Eq -- "$re" "$work/e.txt" || { cat "$work/e.txt"; fail "message for $*"; }
  echo "exit $rc: $(cat "$work/e.txt")"
}
expect_rc 66 "--step-costs: cannot read" --step-costs "$work/none.json"
echo '{"calibration": {"fwd_s": 0.01}}' > "$work/bad.json"
expect_rc 65 "--step-costs: .* lacks the step costs" --step-costs "$work/bad.json"
py "json.dumps(dict(d['calibration'], fwd_s=-1))" "$work/full.json" > "$work/neg.json"
expect_rc 65 "negative or not finite" --step-costs "$work/neg.json"
set +e
"$RAMPART" train "${cfg[@]}" --budget-gpu-hours -1 > /dev/null 2> "$work/e.txt"; rc=$?
set -e
[[ $rc == 78 ]] && grep -q -- "--budget-gpu-hours must be" "$work/e.txt" || { cat "$work/e.txt"; fail "train: exit $rc"; }
echo "schedule_plan: ok"
