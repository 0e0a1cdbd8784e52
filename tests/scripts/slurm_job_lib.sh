# Shared by the Slurm tests: watching one batch job through a requeue, as a user would.
# Source after setting SLURM_CONF, with id set to the job id and fail() defined.
# field NAME: the job's field NAME from scontrol (JobState, Restarts, EligibleTime, ...).
field() { scontrol show job "$id" 2>/dev/null | grep -o " $1=[^ ]*" | head -n1 | cut -d= -f2; }

# await_requeued SECONDS: waits until the job is pending again after its first run.
await_requeued() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(field JobState)" = PENDING ] && [ "$(field Restarts)" = 1 ] && break
    sleep 0.2
  done
  [ "$(field JobState)" = PENDING ] && [ "$(field Restarts)" = 1 ] ||
    fail "job not requeued (state $(field JobState), restarts $(field Restarts))"
  echo "job $id requeued; Slurm holds it (reason $(field Reason)) until $(field EligibleTime)"
}

# await_end SECONDS: waits for the job to end (no StartTime=now: Slurm releases the requeued job
# by itself once the old run's credential is revoked) and sets state.
await_end() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    state=$(field JobState)
    case $state in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; esac
    sleep 0.2
  done
  fail "job $id still $state after $1 s"
}
