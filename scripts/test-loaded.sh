#!/usr/bin/env bash
# The whole test suite RUNS times while other work keeps CPUs busy (stress-ng --cpu LOAD_CPUS,
# from Debian), to show that no test depends on how busy the machine is. Writes one line per run
# and a table to OUT (default benchmarks/results/loaded_suite.md); exit 1 if any run failed.
#   scripts/test-loaded.sh                  # 5 runs, 1 CPU kept busy
#   RUNS=2 LOAD_CPUS=2 scripts/test-loaded.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
LOAD_CPUS=${LOAD_CPUS:-1}
OUT=${OUT:-benchmarks/results/loaded_suite.md}
command -v stress-ng >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends stress-ng >/dev/null
}
scripts/install-deps.sh --with-slurm
scripts/build.sh
logs=$(mktemp -d /tmp/rampart-loaded.XXXXXX)
stress_pid=""
trap '[ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null; true' EXIT
rows=()
failed=0
for run in $(seq "$RUNS"); do
  stress-ng --cpu "$LOAD_CPUS" --timeout 0 --quiet &
  stress_pid=$!
  t0=$(date +%s)
  set +e
  (cd build && ctest --timeout 600 -j1 --output-on-failure >"$logs/run$run.log" 2>&1)
  rc=$?
  set -e
  kill "$stress_pid" 2>/dev/null; wait "$stress_pid" 2>/dev/null || true
  stress_pid=""
  secs=$(( $(date +%s) - t0 ))
  summary=$(grep -E "tests passed|tests failed" "$logs/run$run.log" | tail -n1)
  failures=$(grep -E "^\s+[0-9]+ - " "$logs/run$run.log" | grep -v "(Skipped)" | sed 's/^\s*//' | tr '\n' ';' || true)
  skipped=$(grep -E "^\s+[0-9]+ - " "$logs/run$run.log" | grep -c "(Skipped)" || true)
  echo "run $run: exit $rc, $summary, $skipped skipped, $secs s${failures:+; failed: $failures}"
  rows+=("| $run | $rc | $summary | $skipped | $secs | ${failures:-none} |")
  [ "$rc" -eq 0 ] || failed=1
done
mkdir -p "$(dirname "$OUT")"
{
  echo "# The test suite under load"
  echo
  echo "\`RUNS=$RUNS LOAD_CPUS=$LOAD_CPUS scripts/test-loaded.sh\` at $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d),"
  echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), \`stress-ng --cpu $LOAD_CPUS\` running throughout each run."
  echo
  echo "| run | ctest exit | result | skipped (no GPU) | seconds | failed tests |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$OUT"
echo "results: $OUT (logs in $logs)"
exit $failed
