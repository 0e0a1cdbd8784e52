#!/usr/bin/env bash
# AutoAttack spread over ranks: `rampart eval --attack autoattack` on 1 and on 2 ranks gives
# the same result for every image (the searches key their random numbers by the image's index,
# not by its rank or batch), and the chain's accuracies never rise along it. Prints both wall
# times (their ratio is a benchmark, not checked here: this machine has 2 cores).
# Usage: RAMPART_BIN=... CHECKPOINT_DIFF=... RAMPART_TEST_DATA_DIR=... mpi_eval_autoattack.sh [IMAGES]
set -euo pipefail
TEST_NAME=mpi_eval_autoattack
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=mpi_train_lib.sh
source "$here/mpi_train_lib.sh"
images=${1:-48}
ensure_data
work=$(mktemp -d /tmp/rampart-autoattack.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A model with some robustness to attack: one epoch of PGD-3 training on 2048 images.
run 1 model --limit 2048 --epochs 1 --steps 3 --alpha 0.04

for np in 1 2; do
  t0=$(now)
  "${MPIRUN[@]}" -np "$np" "$RAMPART_BIN" eval --checkpoint "$work/model/checkpoint.h5" --data "$TEST_H5" \
    --attack autoattack --eps 0.1 --limit "$images" --batch 16 --threads 1 --json \
    --per-example "$work/np$np.h5" >"$work/np$np.json" 2>"$work/np$np.log" ||
    { cat "$work/np$np.log"; die "eval on $np rank(s) failed"; }
  say "autoattack on $images images, $np rank(s): $(since "$t0") s: $(cat "$work/np$np.json")"
done

/usr/bin/python3 - "$work" "$images" <<'PY'
import json, sys
import h5py, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
problems = []
a, b = h5py.File(f"{work}/np1.h5", "r"), h5py.File(f"{work}/np2.h5", "r")
names = json.loads(a.attrs["attacks_json"])
if names != ["apgd-ce", "apgd-t", "fab-t", "square"]: problems.append(f"attacks {names}")
# The clean logits to float tolerance: oneDNN's GEMM rounds a row differently (1 ulp) in a batch
# of another size, and 2 ranks cut the 48 images into other batches. Every verdict exactly.
if not np.allclose(a["logits"][()], b["logits"][()], rtol=1e-5, atol=1e-6):
    problems.append("logits: 1 and 2 ranks differ beyond float tolerance")
for key in ["index", "label", "clean_correct"] + [f"{x}_correct" for x in names]:
    x, y = a[key][()], b[key][()]
    if x.shape != y.shape or not np.array_equal(x, y):
        rows = np.nonzero((x != y).reshape(len(x), -1).any(axis=1))[0] if x.shape == y.shape else "shape"
        problems.append(f"{key}: 1 and 2 ranks differ (rows {rows})")
if not np.array_equal(a["index"][()], np.arange(n)): problems.append("index is not 0..n-1")
prev = a["clean_correct"][()]
for x in names:
    cur = a[f"{x}_correct"][()]
    if np.any(cur > prev): problems.append(f"{x}: robust where an earlier attack (or the clean input) was not")
    prev = cur
r1, r2 = json.load(open(f"{work}/np1.json")), json.load(open(f"{work}/np2.json"))
for k in ["clean_accuracy", "apgd_ce_accuracy", "apgd_t_accuracy", "fab_t_accuracy", "square_accuracy",
          "autoattack_accuracy"]:
    if r1.get(k) != r2.get(k): problems.append(f"{k}: {r1.get(k)} on 1 rank, {r2.get(k)} on 2")
if not r1.get("autoattack_accuracy", 1) < r1.get("clean_accuracy", 0):
    problems.append("AutoAttack broke no image: the attack did nothing")
if abs(r1["autoattack_accuracy"] - prev.sum() / n) > 1e-12: problems.append("summary and per-example rows disagree")
print(f"mpi_eval_autoattack: clean {r1['clean_accuracy']}, APGD-CE {r1['apgd_ce_accuracy']}, "
      f"APGD-T {r1['apgd_t_accuracy']}, FAB-T {r1['fab_t_accuracy']}, Square {r1['square_accuracy']}")
if problems: sys.exit("mpi_eval_autoattack: FAILED: " + "; ".join(problems))
PY
say passed
