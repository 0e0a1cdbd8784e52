#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-fuzz/ and runs each on its seed corpus (tests/fuzz/corpus/<target>, copied: the repo's
# corpus is not changed). Exit 1 on any crash, sanitizer report or unexpected exception; the
# reproducer is kept under build-fuzz/findings/.
#   scripts/fuzz.sh                      # every target, 20 s each
#   SECONDS_EACH=600 scripts/fuzz.sh idx # one target, longer
#   RUNS=1000000 scripts/fuzz.sh         # a fixed number of executions per target
#   RUNS=5000 RUNS_dataset=300 RUNS_checkpoint=100 SEED=1 scripts/fuzz.sh
#                                        # what CI runs: the same executions every time (RUNS_<target>
#                                        # overrides RUNS for one target: the HDF5 readers fork a
#                                        # child per input, h5::read_isolated, and run 10-40/s)
#   UNIT_TESTS=1 scripts/fuzz.sh idx     # the CPU unit tests in the same build first
#                                        # (scripts/sanitize.sh asan runs the whole suite there)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx dataset checkpoint model_spec config)
SECONDS_EACH=${SECONDS_EACH:-20}
RUNS=${RUNS:-}
SEED=${SEED:-0}   # 0: a new random seed each run; CI fixes one, so that its runs repeat
scripts/install-deps.sh --with-fuzz
cmake --preset fuzz >/dev/null
units=(test_kernels test_runtime test_cluster)
build_targets=(fuzz_all)
[ -z "${UNIT_TESTS:-}" ] || build_targets+=("${units[@]}")
cmake --build build-fuzz -j"$(nproc)" --target "${build_targets[@]}"
mkdir -p build-fuzz/findings
work=$(mktemp -d /tmp/rampart-fuzz-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
status=0
if [ -n "${UNIT_TESTS:-}" ]; then
  # The unit tests of kernels/, runtime/ and cluster/ in the same ASan + UBSan build: any report fails.
  for u in "${units[@]}"; do
    if OMP_NUM_THREADS=2 "build-fuzz/tests/$u" --gtest_brief=1 >"$work/$u.log" 2>&1; then
      echo "asan+ubsan $u: $(grep -a 'PASSED' "$work/$u.log" | tail -n1)"
    else
      echo "asan+ubsan $u: FAILED"; grep -a -E "FAILED|ERROR|runtime error|SUMMARY" "$work/$u.log" | head -n 20
      status=1
    fi
  done
fi
for t in "${targets[@]}"; do
  corpus=$work/$t
  mkdir -p "$corpus"
  cp -r "tests/fuzz/corpus/$t/." "$corpus/"
  limit=(-max_total_time="$SECONDS_EACH")
  runs_var=RUNS_$t
  runs=${!runs_var:-$RUNS}
  [ -z "$runs" ] || limit=(-runs="$runs")
  # -rss_limit_mb: a reader must not need gigabytes for a small file; -max_len: files up to 64 KiB.
  set +e
  "build-fuzz/fuzz/fuzz_$t" "$corpus" "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=20 \
    -seed="$SEED" -artifact_prefix="build-fuzz/findings/$t-" -print_final_stats=1 >"$work/$t.log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -n1)
  cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n1 || true)  # none when it failed on a seed
  if [ "$rc" -ne 0 ]; then
    echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; reproducer in build-fuzz/findings/:"
    grep -E "ERROR|SUMMARY|fuzz:|runtime error|==[0-9]+==|#[0-9]+ " "$work/$t.log" | head -n 40 || true
    status=1
  else
    echo "fuzz $t: ok, ${execs:-?} executions (${rate:-?}/s), ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) inputs"
  fi
done
exit $status
