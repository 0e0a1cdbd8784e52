#!/usr/bin/env bash
# Stands in for `rampart train` to test launch/slurm/train.sbatch without training:
# counts STEPS steps per rank, and on USR1/TERM "checkpoints" at the next step
# boundary (saves the step in --out) and exits 75, like rampart; --resume
# continues from the saved step; rank 0 writes summary.json at the end. Prints "rank R step S" lines and "rank R done".
set -u
out="" resume=0 steps=${FAKE_STEPS:-40}
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift ;;
    --resume) resume=1 ;;
  esac
  shift
done
rank=${SLURM_PROCID:-0}
mkdir -p "$out"
state=$out/step.$rank
step=0
if [ "$resume" -eq 1 ] && [ -f "$state" ]; then
  step=$(cat "$state")
  echo "rank $rank resumed at step $step"
fi
stop=0
trap 'stop=1' USR1 TERM
while [ "$step" -lt "$steps" ]; do
  if [ "$stop" -eq 1 ]; then
    echo "$step" >"$state"
    echo "rank $rank checkpointed at step $step, exiting 75"
    exit 75
  fi
  step=$((step + 1))
  echo "rank $rank step $step"
  sleep 0.2
done
echo "$step" >"$state"
[ "$rank" -ne 0 ] || echo '{"steps": '"$step"'}' >"$out/summary.json"   # as rampart train does
echo "rank $rank done"
