#!/usr/bin/env bash
# Carried perturbations at scale, measured: the store of one perturbation per training example
# (int8, --attack-init carry) sharded over the ranks. Fashion-MNIST, all 60,000 images (a 47 MB
# store), one epoch at BATCH images per rank (the global batch grows with the ranks), an FGSM-size
# attack step (the store and its exchange do not depend on K), on 1, 2, 4 and 8 ranks: each run's
# report of the largest shard and of the bytes a rank sent and received per step, and every
# rank's peak resident memory (/usr/bin/time). With OLD_BIN, a rampart built before the sharding
# (every rank the whole store, each step's rows all-gathered) runs the same beside it. Then the
# same arithmetic, checked against these runs, for CIFAR-10 and ImageNet at 8 and 64 ranks.
# Build BIN and OLD_BIN alike: a build with the CUDA backend maps its libraries into every rank
# (130-170 MB of resident memory here, with no GPU), which would hide the store's share.
#   benchmarks/carried_shards.sh   (env: BIN, OLD_BIN, RANKS ("1 2 4 8"), BATCH (128), RUNS)
# Writes benchmarks/results/carried_shards.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin/rampart}
OLD_BIN=${OLD_BIN:-}
RANKS=${RANKS:-1 2 4 8}
BATCH=${BATCH:-128}
RUNS=${RUNS:-$(mktemp -d /tmp/carried_shards.XXXXXX)}
OUT=${OUT:-benchmarks/results}
mkdir -p "$RUNS" "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
[ -x /usr/bin/time ] || { echo "carried_shards: /usr/bin/time is missing (apt-get install time)" >&2; exit 66; }
scripts/import-fmnist.sh "$BIN" >/dev/null
kinds=(new)
[ -n "$OLD_BIN" ] && kinds+=(old)
for r in $RANKS; do
  for kind in "${kinds[@]}"; do
    bin=$BIN
    [ "$kind" = old ] && bin=$OLD_BIN
    tag=$kind-np$r
    echo "== $kind, $r ranks, global batch $((BATCH * r))"
    # Each rank's peak RSS into $RUNS/$tag.rss.<rank>.
    mpirun -np "$r" --oversubscribe --bind-to none sh -c \
      'exec /usr/bin/time -f %M -o "$0.rss.$OMPI_COMM_WORLD_RANK" "$@"' "$RUNS/$tag" \
      "$bin" train --config configs/fmnist-pgd.ini --data data/train.h5 --epochs 1 --batch $((BATCH * r)) \
      --attack-init carry --steps 1 --alpha 0.1 --threads 1 --out "$RUNS/$tag" --log-every 1000000 --json \
      >"$RUNS/$tag.json" 2>"$RUNS/$tag.log" || { tail -n 20 "$RUNS/$tag.log"; echo "carried_shards: run $tag failed" >&2; exit 1; }
  done
done
built() {  # BIN: where it was built from, and with which RAMPART_CUDA
  local cache
  cache=$(dirname "$(readlink -f "$1")")/../CMakeCache.txt
  echo "$1 (RAMPART_CUDA=$(sed -n 's/^RAMPART_CUDA:[A-Z]*=//p' "$cache" 2>/dev/null || echo '?'))"
}
builds="new: $(built "$BIN")"
[ -n "$OLD_BIN" ] && builds="$builds; old: $(built "$OLD_BIN")"
BUILDS=$builds /usr/bin/python3 - "$RUNS" "$OUT" "$RANKS" "$BATCH" "${kinds[*]}" <<'PY'
import glob, json, os, sys, datetime
runs, out, ranks, batch, kinds = sys.argv[1], sys.argv[2], [int(r) for r in sys.argv[3].split()], int(sys.argv[4]), sys.argv[5].split()
N, DIM = 60000, 784
ROW = DIM + 12            # a packed row: example (8 bytes), scale (4), codes (dim)
STORE_ROW = DIM + 4       # a stored row: codes and scale

def last_json(path):
    text = open(path).read().strip().splitlines()
    for line in reversed(text):
        line = line.strip()
        if line.startswith("{"):
            try: return json.loads(line)
            except ValueError: pass
    return json.loads(open(path).read())

def model(n, dim, r, b_local):
    """Per rank: store bytes and bytes received per step, replicated (all-gather) and sharded."""
    row, store_row = dim + 12, dim + 4
    return {
        "store_replicated": n * store_row,
        "store_sharded": -(-n // r) * store_row,
        "received_allgather": (r - 1) * b_local * row,
        # the starts of its rows kept elsewhere, and the new rows of the examples it keeps
        "received_sharded": 2 * b_local * (r - 1) / r * row,
    }

rows = []
for r in ranks:
    for kind in kinds:
        tag = f"{kind}-np{r}"
        rss = [int(open(f).read().split()[-1]) / 1024 for f in sorted(glob.glob(f"{runs}/{tag}.rss.*"))]
        res = last_json(f"{runs}/{tag}.json")
        c = res.get("carried", {})
        m = model(N, DIM, r, batch)
        rows.append({"kind": kind, "ranks": r, "rss_mb": rss, "carried": c, "model": m,
                     "images_per_s": res.get("train_images_per_s")})
json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"), "batch_per_rank": batch, "runs": rows},
          open(os.path.join(out, "carried_shards.json"), "w"), indent=1)

def mb(x): return f"{x / 1e6:,.2f} MB" if x < 1e9 else f"{x / 1e9:,.1f} GB"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
L = ["# Carried perturbations sharded over the ranks", "",
     f"{datetime.datetime.now().isoformat(timespec='seconds')}, {cpu}, {os.cpu_count()} cores (ranks oversubscribed, 1 thread each).",
     f"`benchmarks/carried_shards.sh`: Fashion-MNIST, 60,000 images of 784 pixels, one epoch, {batch} images per rank,",
     "`--attack-init carry --steps 1`. `new`: the sharded store; `old`: the replicated store with an all-gather",
     "per step (the build before the sharding). Peak RSS is each rank's maximum resident set (/usr/bin/time).",
     f"Binaries: {os.environ.get('BUILDS', '?')}.", "",
     "| store | ranks | largest shard (reported) | model | received / step (reported) | model | sent / step (reported) | peak RSS per rank, MB | train images/s |",
     "|---|---|---|---|---|---|---|---|---|"]
for x in rows:
    c, m = x["carried"], x["model"]
    if x["kind"] == "new":
        shard, mshard = mb(c.get("shard_bytes", 0)), mb(m["store_sharded"])
        recv, mrecv = mb(c.get("received_bytes_per_step", 0)), mb(m["received_sharded"])
        sent = mb(c.get("sent_bytes_per_step", 0))
    else:
        shard, mshard = "(whole store)", mb(m["store_replicated"])
        recv, mrecv, sent = "(not reported)", mb(m["received_allgather"]), "(not reported)"
    rss = ", ".join(f"{v:.0f}" for v in x["rss_mb"])
    ips = x["images_per_s"]
    L.append(f"| {x['kind']} | {x['ranks']} | {shard} | {mshard} | {recv} | {mrecv} | {sent} | {rss} | "
             f"{ips:,.0f} |" if ips else f"| {x['kind']} | {x['ranks']} | {shard} | {mshard} | {recv} | {mrecv} | {sent} | {rss} | ? |")
L += ["", "The same arithmetic (the model columns above) for larger datasets, 128 images per rank:", "",
      "| dataset | ranks | store per rank, replicated | sharded | received per step, all-gather | sharded (point to point) |",
      "|---|---|---|---|---|---|"]
for name, n, dim in [("CIFAR-10", 50000, 3 * 32 * 32), ("ImageNet", 1281167, 3 * 224 * 224)]:
    for r in (8, 64):
        m = model(n, dim, r, 128)
        L.append(f"| {name} | {r} | {mb(m['store_replicated'])} | {mb(m['store_sharded'])} | "
                 f"{mb(m['received_allgather'])} | {mb(m['received_sharded'])} |")
open(os.path.join(out, "carried_shards.md"), "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
