#!/usr/bin/env bash
# rampart's AutoAttack against the reference (Croce & Hein's own code, PyPI pyautoattack 0.2.0,
# run by benchmarks/independent_attack.py) on the same checkpoint and test images: the
# accuracy after each attack of the chain (APGD-CE, APGD-T, FAB-T, Square), the difference,
# and how many images the two classify differently (robust in one, broken in the other).
# Also times rampart's evaluation on 1 and on RANKS ranks (the per-image results must agree).
# Usage: benchmarks/autoattack_compare.sh CHECKPOINT [IMAGES=1000] [EPS=0.1] [NORM=Linf]
#   env: DATA (test set), RANKS (2; 1: no second rampart run), THREADS (per process, 2),
#        PEER=1 (the reference under the newest PyTorch from PyPI: benchmarks/peer_venv.sh)
# Writes benchmarks/results/autoattack-<name>.json; prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
ck=${1:?usage: benchmarks/autoattack_compare.sh CHECKPOINT [IMAGES] [EPS] [NORM]}
images=${2:-1000}
eps=${3:-0.1}
norm=${4:-Linf}
data=${DATA:-data/test.h5}
ranks=${RANKS:-2}
threads=${THREADS:-2}
name=${NAME:-$(basename "$(dirname "$ck")")}
out=benchmarks/results/autoattack-$name.json
work=$(mktemp -d /tmp/rampart-aa-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
rnorm=$(echo "$norm" | tr 'A-Z' 'a-z')

timed() {  # NP FILE-STEM
  local t0 t1
  t0=$(date +%s.%N)
  mpirun -np "$1" --oversubscribe --bind-to none build/bin/rampart eval --checkpoint "$ck" --data "$data" \
    --threads "$((threads / $1 > 0 ? threads / $1 : 1))" --attack autoattack --norm "$rnorm" --eps "$eps" --limit "$images" --json --per-example "$work/$2.h5" >"$work/$2.json"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }' >"$work/$2.seconds"
}
timed 1 np1
[ "$ranks" -gt 1 ] && timed "$ranks" "np$ranks"
t0=$(date +%s.%N)
benchmarks/independent_attack.sh "$ck" --data "$data" --limit "$images" --eps "$eps" --norm "$norm" \
  --attacks autoattack --threads "$threads" --per-example "$work/ref.npz" >"$work/ref.json"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }' >"$work/ref.seconds"

PYTHONPATH=build/pydeps /usr/bin/python3 - "$work" "$ranks" "$out" "$ck" "$threads" <<'PY'
import json, sys
import h5py, numpy as np
work, ranks, out, ck = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
chain = ["apgd-ce", "apgd-t", "fab-t", "square"]
r = h5py.File(f"{work}/np1.h5", "r")
ref = np.load(f"{work}/ref.npz")
rj, refj = json.load(open(f"{work}/np1.json")), json.load(open(f"{work}/ref.json"))
n = len(r["index"])
res = {"checkpoint": ck, "images": n, "eps": rj["eps"], "norm": rj["norm"], "reference": {
    "code": "pyautoattack " + refj.get("pyautoattack", "?") + " (Croce & Hein's attack files)", "torch": refj["torch"]},
    "rows": []}
def row(name, a, b):
    a, b = a.astype(bool), b.astype(bool)
    return {"after": name, "rampart": float(a.mean()), "reference": float(b.mean()),
            "difference_points": 100 * float(a.mean() - b.mean()),
            "robust_only_in_rampart": int((a & ~b).sum()), "robust_only_in_reference": int((~a & b).sum())}
res["rows"].append(row("clean", r["clean_correct"][()], ref["clean_correct"]))
for c in chain:
    res["rows"].append(row(c, r[f"{c}_correct"][()], ref[f"{c}_correct"]))
res["threads_per_process"] = int(sys.argv[5])
res["seconds"] = {"rampart_1_rank": float(open(f"{work}/np1.seconds").read()),
                  "reference_1_process": float(open(f"{work}/ref.seconds").read())}
if ranks > 1:
    r2 = h5py.File(f"{work}/np{ranks}.h5", "r")
    same = all(np.array_equal(r[k][()], r2[k][()]) for k in ["index", "clean_correct"] + [f"{c}_correct" for c in chain])
    res["seconds"][f"rampart_{ranks}_ranks"] = float(open(f"{work}/np{ranks}.seconds").read())
    res[f"rampart_1_and_{ranks}_ranks_agree_per_image"] = bool(same)
json.dump(res, open(out, "w"), indent=1)
print(f"{'after':10s} {'rampart':>9s} {'reference':>9s} {'diff (pt)':>9s} {'only r':>7s} {'only ref':>8s}")
for x in res["rows"]:
    print(f"{x['after']:10s} {100*x['rampart']:8.2f}% {100*x['reference']:8.2f}% {x['difference_points']:+9.2f} "
          f"{x['robust_only_in_rampart']:7d} {x['robust_only_in_reference']:8d}")
print(json.dumps(res["seconds"]), {k: v for k, v in res.items() if k.endswith("agree_per_image")})
print(f"wrote {out}")
PY
