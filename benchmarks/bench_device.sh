#!/usr/bin/env bash
# End-to-end adversarial training throughput on GPU against the CPU path: the same
# PGD-7 training (configs/fmnist-pgd.ini) on the first LIMIT training images for one
# epoch, once with --device cpu and once with --device cuda, then a JSON summary
# (images/s of each and the ratio) on standard output and in OUT/device.json.
# Where the build has no CUDA or no GPU is visible the GPU run is reported as
# skipped, with rampart's reason, never as a number.
#
# usage: benchmarks/bench_device.sh   (env: BIN, LIMIT, OUT, CPU_THREADS)
# On a GPU machine: configure with -DRAMPART_CUDA=ON, build, then run this script.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
LIMIT=${LIMIT:-12800}
OUT=${OUT:-benchmarks/results}
CPU_THREADS=${CPU_THREADS:-0}
work=$(mktemp -d /tmp/bench_device.XXXXXX)
trap 'rm -rf "$work"' EXIT

scripts/import-fmnist.sh "$BIN"
run() {  # device, then extra flags; prints the JSON summary or the error line
  local dev=$1 rc=0; shift
  "$BIN" train --config configs/fmnist-pgd.ini --data data/train.h5 --limit "$LIMIT" --epochs 1 \
    --device "$dev" --out "$work/$dev" --json --log-level warn "$@" > "$work/$dev.json" 2> "$work/$dev.err" || rc=$?
  echo "$rc"
}
cpu_rc=$(run cpu --threads "$CPU_THREADS")
cuda_rc=$(run cuda)
mkdir -p "$OUT"
python3 - "$work" "$cpu_rc" "$cuda_rc" "$LIMIT" "$OUT/device.json" <<'PY'
import json, sys
work, cpu_rc, cuda_rc, limit, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def load(dev, rc):
    if rc != 0:
        err = open(f"{work}/{dev}.err").read().strip().splitlines()
        return {"device": dev, "skipped": True, "exit_code": rc, "reason": err[-1] if err else ""}
    d = json.load(open(f"{work}/{dev}.json"))
    return {"device": dev, "images_per_s": d["train_images_per_s"], "train_seconds": d["train_seconds"],
            "attack_seconds": d["attack_seconds"], "steps": d["steps"]}
cpu, cuda = load("cpu", cpu_rc), load("cuda", cuda_rc)
if cpu.get("skipped"):
    sys.exit(f"bench_device.sh: the CPU run failed: {cpu['reason']}")
res = {"workload": f"PGD-7 adversarial training, small-cnn, batch 128, first {limit} Fashion-MNIST images, 1 epoch",
       "cpu": cpu, "cuda": cuda}
if not cuda.get("skipped"):
    res["gpu_over_cpu"] = cuda["images_per_s"] / cpu["images_per_s"]
json.dump(res, open(out, "w"), indent=1)
print(json.dumps(res))
PY
