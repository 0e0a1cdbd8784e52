#!/usr/bin/env bash
# gpu_check.sh: the one prepared check for a GPU machine, under 8 minutes.
#   benchmarks/gpu_check.sh            (from the repository root)
# Stages, each time-boxed with `timeout` and recorded (status, seconds, log):
#   1. configure + build for the GPU found (compute capability from nvidia-smi);
#   2. ctest -L cuda --output-on-failure (the GPU tests; all must pass or skip);
#   3. the cuDNN algorithm record (which algorithm per shape and direction, and
#      whether it is deterministic) from the conv test;
#   4. bench_cuda_pgd and bench_cuda_kernels: GB/s against the device's bandwidth,
#      conv TFLOP/s, the allocator's steady state;
#   5. the end-to-end check: $RAMPART_E2E_CMD, by default benchmarks/gpu_e2e.sh (the
#      same training run on --device cpu and cuda, weights compared), run from the
#      repository root with BUILD set to the build folder; RAMPART_E2E_CMD= skips it.
# Results: summary.json, summary.md and one log per stage under $OUT (the device
# machine's result folder) or ./gpu_check_out. Exits 1 if any stage failed.
# Environment: BUILD (build folder, default build-gpu), JOBS (default nproc),
# and the per-stage limits T_BUILD T_TEST T_BENCH T_E2E in seconds.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS=${OUT:-$ROOT/gpu_check_out}
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
T_BUILD=${T_BUILD:-230} T_TEST=${T_TEST:-110} T_BENCH=${T_BENCH:-45} T_E2E=${T_E2E:-75}
mkdir -p "$RESULTS"
STAGES_JSON=""
STAGES_MD=""
FAILED=0

# run_stage NAME LIMIT_S COMMAND...: runs the command under timeout, logs to
# $RESULTS/NAME.log, records status ok / failed (rc) / timeout.
run_stage() {
  local name=$1 limit=$2
  shift 2
  local log="$RESULTS/$name.log" start end rc status
  echo "== $name (limit ${limit}s): $*"
  start=$(date +%s.%N)
  timeout --kill-after=10 "$limit" bash -c "$*" >"$log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  if [ $rc -eq 0 ]; then status=ok
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=timeout; FAILED=1
  else status=failed; FAILED=1
  fi
  local secs
  secs=$(python3 -c "print(round($end - $start, 1))" 2>/dev/null || echo 0)
  echo "   -> $status (rc $rc, ${secs}s); last lines:"
  tail -n 5 "$log" | sed 's/^/      /'
  STAGES_JSON+="{\"stage\":\"$name\",\"status\":\"$status\",\"rc\":$rc,\"seconds\":$secs,\"log\":\"$name.log\"},"
  STAGES_MD+="| $name | $status | $rc | $secs | $name.log |"$'\n'
  return $rc
}

skip_stage() {  # skip_stage NAME REASON: recorded, not a failure
  echo "== $1: skipped ($2)"
  STAGES_JSON+="{\"stage\":\"$1\",\"status\":\"$2\",\"rc\":null,\"seconds\":0,\"log\":null},"
  STAGES_MD+="| $1 | $2 | | 0 | |"$'\n'
}

# --- the machine --------------------------------------------------------------
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1)
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .')
if [ -z "$CC" ]; then
  echo "gpu_check: nvidia-smi reports no GPU; building for sm_90"
  CC=90
  FAILED=1
  STAGES_JSON+="{\"stage\":\"detect_gpu\",\"status\":\"failed\",\"rc\":1,\"seconds\":0,\"log\":null},"
  STAGES_MD+="| detect_gpu | failed | 1 | 0 | |"$'\n'
fi
echo "gpu_check: ${GPU_NAME:-no GPU}, CMAKE_CUDA_ARCHITECTURES=$CC, results in $RESULTS"
nvidia-smi >"$RESULTS/nvidia-smi.txt" 2>&1 || true

# --- 1. build ------------------------------------------------------------------
LAUNCHER=""
command -v ccache >/dev/null && LAUNCHER="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache"
if run_stage build "$T_BUILD" \
    "cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release -DRAMPART_CUDA=ON -DRAMPART_BENCHMARKS=ON \
       -DCMAKE_CUDA_ARCHITECTURES=$CC $LAUNCHER && cmake --build $BUILD -j$JOBS"; then
  BUILT=1
else
  BUILT=0
fi

# --- 2-4. tests, algorithm record, benchmarks -------------------------------------
if [ $BUILT = 1 ]; then
  run_stage ctest_cuda "$T_TEST" "cd $BUILD && ctest -L cuda --output-on-failure --timeout 100"
  run_stage cudnn_algorithms 60 \
    "$BUILD/tests/test_cuda --gtest_filter='CudaConvCudnn.RecordsDeterministicAlgorithmChoices'"
  run_stage bench_cuda_pgd "$T_BENCH" "$BUILD/bin/bench_cuda_pgd --out $RESULTS/bench_cuda_pgd.json"
  run_stage bench_cuda_kernels "$T_BENCH" "$BUILD/bin/bench_cuda_kernels --out $RESULTS/bench_cuda_kernels.json"
else
  for s in ctest_cuda cudnn_algorithms bench_cuda_pgd bench_cuda_kernels; do skip_stage $s not_built; done
fi

# --- 5. end to end --------------------------------------------------------------
# Default: benchmarks/gpu_e2e.sh (the same training on --device cpu and cuda).
RAMPART_E2E_CMD=${RAMPART_E2E_CMD-benchmarks/gpu_e2e.sh}
if [ -n "${RAMPART_E2E_CMD:-}" ] && [ $BUILT = 1 ]; then
  run_stage e2e "$T_E2E" "BUILD=$BUILD $RAMPART_E2E_CMD"
elif [ -n "${RAMPART_E2E_CMD:-}" ]; then
  skip_stage e2e not_built
else
  skip_stage e2e not_configured
fi

# --- summary --------------------------------------------------------------------
STATUS=$([ $FAILED = 0 ] && echo ok || echo failed)
cat >"$RESULTS/summary.json" <<EOF
{"gpu": "${GPU_NAME:-none}", "cuda_architectures": "$CC", "status": "$STATUS",
 "commit": "$(git rev-parse HEAD 2>/dev/null || echo unknown)",
 "stages": [${STAGES_JSON%,}]}
EOF
{
  echo "# gpu_check: $STATUS"
  echo
  echo "GPU: ${GPU_NAME:-none} (sm_$CC); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
  echo "| stage | status | rc | seconds | log |"
  echo "|---|---|---|---|---|"
  printf "%s" "$STAGES_MD"
  if [ -f "$RESULTS/cudnn_algorithms.log" ]; then
    echo
    echo "## cuDNN algorithm record"
    echo
    echo '```'
    grep -E "forward|backward" "$RESULTS/cudnn_algorithms.log" | grep -v "^\[" | head -n 40
    echo '```'
  fi
  if [ -f "$RESULTS/bench_cuda_kernels.log" ]; then
    echo
    echo "## Kernel bandwidth"
    echo
    echo '```'
    grep -E "GB/s|TFLOP/s|allocator" "$RESULTS/bench_cuda_kernels.log" | head -n 40
    echo '```'
  fi
} >"$RESULTS/summary.md"
echo "gpu_check: $STATUS; summary in $RESULTS/summary.md"
[ $FAILED = 0 ]
