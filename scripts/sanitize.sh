#!/usr/bin/env bash
# The test suite under sanitizers. Exit 1 on any failure or sanitizer report.
#   scripts/sanitize.sh asan    # every CPU test (gtests, mpirun, Slurm and end-to-end scripts) built
#                               # with AddressSanitizer + UndefinedBehaviorSanitizer (clang; the
#                               # build-fuzz/ tree of scripts/fuzz.sh, which it shares)
#   scripts/sanitize.sh tsan    # ThreadSanitizer (build-tsan/): the gradient reducer, the watchdog
#                               # and the stop-signal tests (one rank and under mpirun)
# Extra arguments go to ctest (e.g. -R cli_errors).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh asan|tsan [ctest arguments]}
shift
jobs=$(nproc 2>/dev/null || echo 2)
supp=$PWD/tests/sanitizers

case "$kind" in
  asan)
    scripts/install-deps.sh --with-slurm --with-fuzz
    cmake --preset fuzz >/dev/null
    cmake --build build-fuzz -j"$jobs"
    # Every report ends the process with a failure. Leaks too in the unit tests (every GoogleTest
    # case: a name with a dot), except those of uninstrumented runtimes (tests/sanitizers/lsan.supp).
    # The scripts' processes start Open MPI, whose plugins are unloaded before the leak check, so
    # their leaks cannot be attributed: there LeakSanitizer is off, everything else stays on.
    # The PyTorch comparison (label torch) checks numbers, not memory: the plain suite runs it;
    # so are the scripts labelled asan-skip, whose code the unit tests run here.
    asan=detect_stack_use_after_return=0:allocator_may_return_null=0
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp/lsan.supp:print_suppressions=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    cd build-fuzz
    # As many tests at once as cores (ctest honours each test's PROCESSORS and RESOURCE_LOCK): the
    # suite passes on a busy machine (scripts/test-loaded.sh), and sanitized it runs 3x longer.
    status=0
    ASAN_OPTIONS=${ASAN_OPTIONS:-$asan:detect_leaks=1} \
      ctest --output-on-failure --timeout 900 -j"$jobs" -LE cuda -R '[.]' "$@" || status=1
    ASAN_OPTIONS=${ASAN_OPTIONS:-$asan:detect_leaks=0} \
      ctest --output-on-failure --timeout 900 -j"$jobs" -LE 'cuda|torch|asan-skip' -E '[.]' "$@" || status=1
    exit $status
    ;;
  tsan)
    scripts/install-deps.sh --with-slurm
    cmake --preset tsan >/dev/null
    cmake --build build-tsan -j"$jobs" --target rampart test_cluster checkpoint_diff
    dir=build-tsan
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp}
    # One OpenMP thread: GCC's libgomp synchronises through futexes TSan cannot see.
    export OMP_NUM_THREADS=1
    select=(-R '^(GradReducer|Watchdog|Heartbeat)\.|^train_signals$|^mpi_train_preempt$|^mpi_train_preempt_one_rank$')
    ;;
  *)
    echo "scripts/sanitize.sh: unknown kind '$kind'; expected asan or tsan" >&2
    exit 64
    ;;
esac

cd "$dir"
# Sanitized binaries run 2-5x slower: the long timeout is the one the suite already allows.
ctest --output-on-failure --timeout 900 "${select[@]}" "$@"
