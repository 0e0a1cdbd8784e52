#!/usr/bin/env bash
# Runs a job that must fail: passes when it exits non-zero within MAX_SECONDS
# and its output matches PATTERN (grep -E); fails on a zero exit, a hang, or no message.
# Usage: expect_job_dies.sh MAX_SECONDS PATTERN command [args...]
set -u
max=$1 pattern=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
# A hard stop well past the limit, so a hang fails the test instead of hanging CTest.
timeout -s KILL $((max + 15)) "$@" >"$log" 2>&1
rc=$?
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
cat "$log"
echo "expect_job_dies: exit code $rc after $elapsed s (limit $max s)"
if [ "$rc" -eq 0 ]; then
  echo "expect_job_dies: FAILED: the job exited 0, expected a non-zero exit" >&2
  exit 1
fi
if awk -v e="$elapsed" -v m="$max" 'BEGIN { exit !(e >= m) }'; then
  echo "expect_job_dies: FAILED: the job took $elapsed s to end, more than $max s" >&2
  exit 1
fi
if ! grep -Eq -- "$pattern" "$log"; then
  echo "expect_job_dies: FAILED: no line matching /$pattern/ in the job's output" >&2
  exit 1
fi
echo "expect_job_dies: passed"
