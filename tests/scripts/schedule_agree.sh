#!/usr/bin/env bash
# Under mpirun -np 2: rank 0 decides eps, K and alpha (budgeted ramp, guard probes, budget);
# every rank must have applied the same decisions from the same steps. Each rank records
# what it applied; the trainer gathers them into summary.json (schedule.decisions_by_rank).
# usage: schedule_agree.sh RAMPART SOURCE_DIR MPIRUN...
RAMPART=$1; SRC=$2; shift 2
source "$(dirname "$0")/schedule_lib.sh"
import_data
"$@" -np 2 "$RAMPART" train --config "$SRC/configs/fmnist-pgd.ini" --data "$work/train.h5" --test-data "$work/test.h5" \
  --limit 768 --eval-limit 64 --epochs 3 --max-steps-k 3 --schedule budgeted --budget-hours 0.03 --probe-every 2 \
  --threads 1 --out "$work/run" --log-level warn > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; fail "mpirun exited $?"; }
s="$work/run/summary.json"
[[ -f $s ]] || { cat "$work/out.txt"; fail "no summary.json"; }
py "json.dumps(d['schedule']['decisions_by_rank'])" "$s"
[[ $(py "len(d['schedule']['decisions_by_rank'])" "$s") == 2 ]] || fail "expected the decisions of 2 ranks"
[[ $(py "d['schedule']['decisions_by_rank'][0] == d['schedule']['decisions_by_rank'][1]" "$s") == True ]] ||
  fail "ranks applied different decisions"
[[ $(py "len(d['schedule']['decisions_by_rank'][0]) >= 2" "$s") == True ]] || fail "expected at least two decisions"
[[ $(py "d['schedule']['decisions_agree']" "$s") == True ]] || fail "decisions_agree is false"
[[ $(py "d['ranks']" "$s") == 2 ]] || fail "not 2 ranks"
echo "schedule_agree: ok"
