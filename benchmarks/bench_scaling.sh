#!/usr/bin/env bash
# Scaling benchmark of the reference workload (FMNIST-PGD7: small-cnn, PGD-7
# training, global batch 128): training throughput against ranks, time in the
# gradient all-reduce and the fraction of it hidden behind backward, read from
# each run's summary.json; the all-reduce microbenchmark; and the projection to
# 64 ranks from cluster/schedule/cost_model.h (bench_scaling_projection).
#   benchmarks/bench_scaling.sh [--build DIR] [--limit N] [--epochs E] [--ranks "1 2"] [--repeat R] [--out DIR]
# Ranks run under mpirun --bind-to none; rampart gives each rank cores / ranks
# OpenMP threads (1 rank: 2 threads, 2 ranks: 1 each on a 2-core machine).
# Configurations are run alternately, R rounds, so drifting load hits all alike.
# Writes DIR/scaling.json and DIR/scaling.md (default benchmarks/results).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build limit=12800 epochs=1 ranks="1 2" repeat=2 out=$here/results
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift ;;
    --limit) limit=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--build DIR] [--limit N] [--epochs E] [--ranks \"1 2\"] [--repeat R] [--out DIR]" >&2; exit 64 ;;
  esac
  shift
done
build=$(cd "$build" && pwd)
rampart=$build/bin/rampart
[ -x "$rampart" ] || { echo "bench_scaling: no $rampart; build first" >&2; exit 66; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
unset OMP_NUM_THREADS   # let rampart divide the cores among the ranks
fmnist=${RAMPART_FMNIST:-/usr/share/datasets/fashion-mnist}
data=$build/testdata/fmnist
mkdir -p "$data" "$out"
if [ ! -f "$data/train.h5" ]; then
  "$rampart" data import --images "$fmnist/train-images-idx3-ubyte.gz" --labels "$fmnist/train-labels-idx1-ubyte.gz" \
    --out "$data/train.h5.tmp.$$" && mv "$data/train.h5.tmp.$$" "$data/train.h5"
fi
work=$(mktemp -d /tmp/rampart-bench-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "bench_scaling: $limit images x $epochs epoch(s), ranks: $ranks, $repeat round(s); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$repeat"); do
  for n in $ranks; do
    run=$work/np$n-r$r
    mpirun -np "$n" --oversubscribe --bind-to none "$rampart" train --config "$root/configs/fmnist-pgd.ini" \
      --data "$data/train.h5" --out "$run" --epochs "$epochs" --limit "$limit" --log-every 1000000 \
      >"$run.log" 2>&1 || { cat "$run.log"; echo "bench_scaling: the run on $n rank(s) failed" >&2; exit 1; }
    python3 - "$run/summary.json" "$n" "$r" "$(cut -d' ' -f1 /proc/loadavg)" "$(nproc)" >"$work/row-np$n-r$r.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n, cores = int(sys.argv[2]), int(sys.argv[5])
s.update({"ranks": n, "round": int(sys.argv[3]), "loadavg_after": float(sys.argv[4]),
          "threads_per_rank": max(1, cores // n), "cores": cores})
print(json.dumps(s))
PY
    printf 'bench_scaling: round %s, %s rank(s): %s\n' "$r" "$n" \
      "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%.0f images/s, all-reduce %.3f s, exposed %.3f s" % (s["train_images_per_s"], s["allreduce_seconds"], s["allreduce_exposed_seconds"]))' "$run/summary.json")"
  done
done

# The all-reduce on its own, at the largest world size measured.
maxn=$(for n in $ranks; do echo "$n"; done | sort -n | tail -n1)
ar_json=""
if [ -x "$build/bin/bench_allreduce" ] && [ "$maxn" -gt 1 ]; then
  mpirun -np "$maxn" --oversubscribe --bind-to none "$build/bin/bench_allreduce" --json "$work/allreduce.json" |
    tee "$work/allreduce.txt"
  ar_json=$work/allreduce.json
fi

# The projection to 64 ranks (cluster/schedule/cost_model.h), from the median-throughput runs.
pick() {  # the run of N ranks with the median throughput
  python3 - "$work" "$1" <<'PY'
import glob, json, sys
rows = [(json.load(open(f)), f) for f in glob.glob(f"{sys.argv[1]}/row-np{sys.argv[2]}-r*.json")]
rows.sort(key=lambda t: t[0]["train_images_per_s"])
print(rows[(len(rows) - 1) // 2][1])
PY
}
proj_json=""
if [ -x "$build/bin/bench_scaling_projection" ] && [ "$maxn" -gt 1 ]; then
  args=(--one "$(pick 1)" --two "$(pick "$maxn")" --attack-steps 7 --json "$work/projection.json")
  [ -n "$ar_json" ] && args+=(--allreduce "$ar_json")
  "$build/bin/bench_scaling_projection" "${args[@]}"
  proj_json=$work/projection.json
fi

python3 "$here/bench_scaling_report.py" --rows "$work"/row-*.json --allreduce "$ar_json" --projection "$proj_json" \
  --limit "$limit" --epochs "$epochs" --json "$out/scaling.json" --md "$out/scaling.md"
echo "bench_scaling: wrote $out/scaling.json and $out/scaling.md"
