#!/usr/bin/env bash
# Scaling across network hosts, measured against what rampart predicts for the same link.
# Two hosts on this machine (tests/scripts/netns_hosts.sh: network namespaces joined by veth links
# through a bridge), one rank of 1 thread on each, the reference workload (small-cnn, PGD-7,
# global batch 128). For each link rate (RATES, tc tbf on both hosts' links, both ways):
#   1. the all-reduce across the hosts, 4 KB to 16 MB (bench_allreduce): alpha and beta fitted;
#   2. `rampart plan --ranks 2` with that network (--network-busbw-gbs/--network-latency-us from
#      the fit) and the step costs calibrated once on one host: predicted step, all-reduce, and
#      exposed all-reduce;
#   3. training on the two hosts: measured step (train_seconds / steps), all-reduce per step and
#      the part of it not hidden behind backward (summary.json).
# A row "one host" runs the same 2 ranks over shared memory. Configurations run alternately,
# ROUNDS rounds, so drifting load hits all alike.
#   benchmarks/bench_multihost.sh [BUILD_DIR]
# Env: RATES ("off 25gbit 10gbit 1gbit"), ROUNDS (2), LIMIT (3840 images = 30 steps), OUT
# (benchmarks/results). Needs root and iproute2. Writes OUT/multihost.{json,md}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD=$(cd "${1:-$root/build}" && pwd)
RATES=${RATES:-off 25gbit 10gbit 1gbit}
ROUNDS=${ROUNDS:-2}
LIMIT=${LIMIT:-3840}
OUT=${OUT:-$here/results}
rampart=$BUILD/bin/rampart
for b in rampart bench_allreduce; do
  [ -x "$BUILD/bin/$b" ] || { echo "bench_multihost: no $BUILD/bin/$b; run scripts/build.sh" >&2; exit 66; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench_multihost: needs root (network namespaces)" >&2; exit 77; }
cd "$root"
scripts/import-fmnist.sh "$rampart" >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 OMP_NUM_THREADS=1
work=$(mktemp -d /var/tmp/rampart-bench-multihost.XXXXXX)   # not /tmp: each host has its own
NETNS=$root/tests/scripts/netns_hosts.sh
trap '"$NETNS" stop "$work/net" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$NETNS" start "$work/net" 2 >/dev/null
# shellcheck disable=SC1091
source "$work/net/env"
hosts=(mpirun --hostfile "$work/net/hostfile" --bind-to none --mca plm_rsh_agent "$NETNS rsh $work/net"
       --mca oob_tcp_if_include "$RAMPART_NETNS_SUBNET" --mca btl tcp,self --mca btl_tcp_if_include "$RAMPART_NETNS_SUBNET")
local_=(mpirun --oversubscribe --bind-to none)
train=(train --config configs/fmnist-pgd.ini --data data/train.h5 --epochs 1 --limit "$LIMIT" --threads 1
       --log-every 1000000 --timeout 120)
load_before=$(cut -d' ' -f1 /proc/loadavg)

# Step costs, calibrated once on one host (1 rank, 1 thread, the global batch), reused per link.
"$rampart" plan --config configs/fmnist-pgd.ini --data data/train.h5 --limit "$LIMIT" --threads 1 --json \
  >"$work/calibration.json"

shape() { for h in h1 h2; do "$NETNS" shape "$work/net" "$h" "$1"; done; }
for r in $(seq "$ROUNDS"); do
  for rate in local $RATES; do
    tag=$rate-r$r
    if [ "$rate" = local ]; then launch=("${local_[@]}"); else launch=("${hosts[@]}"); shape "$rate"; fi
    "${launch[@]}" -np 2 "$BUILD/bin/bench_allreduce" --json "$work/ar-$tag.json" >"$work/ar-$tag.log" 2>&1 ||
      { cat "$work/ar-$tag.log"; echo "bench_multihost: the all-reduce benchmark failed ($rate)" >&2; exit 1; }
    read -r busbw lat < <(/usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1])); f = j['fit']
# p = 2: t = alpha + beta * bytes = 2 * latency + bytes / busbw (cost_model.h). A fit dominated by
# the large messages can put alpha below 0: the smallest message's time is the latency then.
alpha = f['alpha_s'] if f['alpha_s'] > 0 else min(r['median_s'] for r in j['results'])
print(1e-9 / f['beta_s_per_byte'] if f['beta_s_per_byte'] > 0 else 1e3, alpha / 2 * 1e6)" "$work/ar-$tag.json")
    "$rampart" plan --config configs/fmnist-pgd.ini --data data/train.h5 --limit "$LIMIT" --threads 1 --ranks 2 \
      --step-costs "$work/calibration.json" --network-busbw-gbs "$busbw" --network-latency-us "$lat" --json \
      >"$work/plan-$tag.json"
    "${launch[@]}" -np 2 "$rampart" "${train[@]}" --out "$work/run-$tag" >"$work/run-$tag.log" 2>&1 ||
      { cat "$work/run-$tag.log"; echo "bench_multihost: training failed ($rate)" >&2; exit 1; }
    [ "$rate" = local ] || shape off
    echo "bench_multihost: round $r, $rate: busbw $busbw GB/s, latency $lat us; $(/usr/bin/python3 -c "
import json, sys
s = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))['predicted']
print('step %.1f ms measured, %.1f predicted' % (1e3 * s['train_seconds'] / s['steps'], 1e3 * p['step_s']))" \
      "$work/run-$tag/summary.json" "$work/plan-$tag.json")"
  done
done

mkdir -p "$OUT"
/usr/bin/python3 - "$work" "$OUT" "$ROUNDS" "local $RATES" "$load_before" "$(cut -d' ' -f1 /proc/loadavg)" "$LIMIT" <<'EOF'
import json, os, statistics, sys, datetime
work, out, rounds, rates, load0, load1, limit = sys.argv[1:8]
rounds = int(rounds)
rows = []
for rate in rates.split():
    per = []
    for r in range(1, rounds + 1):
        tag = f"{rate}-r{r}"
        ar = json.load(open(f"{work}/ar-{tag}.json"))
        plan = json.load(open(f"{work}/plan-{tag}.json"))
        s = json.load(open(f"{work}/run-{tag}/summary.json"))
        pred = plan["predicted"]
        g = pred["grad_bytes"]
        fit = ar["fit"]
        per.append({
            "round": r, "busbw_GBps": 1e-9 / fit["beta_s_per_byte"] if fit["beta_s_per_byte"] > 0 else None,
            "alpha_s": fit["alpha_s"], "latency_s": plan["network"]["alpha_s"],
            "allreduce_bench_s": fit["alpha_s"] + fit["beta_s_per_byte"] * g,
            "measured_step_s": s["train_seconds"] / s["steps"],
            "measured_allreduce_s": s["allreduce_seconds"] / s["steps"],
            "measured_exposed_s": s["allreduce_exposed_seconds"] / s["steps"],
            "predicted_step_s": pred["step_s"], "predicted_allreduce_s": pred["allreduce_s"],
            "predicted_exposed_s": pred["allreduce_exposed_s"], "images_per_s": s["train_images_per_s"]})
    med = lambda k: statistics.median(p[k] for p in per if p[k] is not None)
    row = {"link": "one host (shared memory)" if rate == "local" else ("unshaped veth" if rate == "off" else rate),
           "rounds": per}
    for k in per[0]:
        if k != "round" and per[0][k] is not None: row[k] = med(k)
    row["step_error_pct"] = 100 * (row["predicted_step_s"] - row["measured_step_s"]) / row["measured_step_s"]
    rows.append(row)
meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t"),
        "hosts": 2, "ranks_per_host": 1, "threads_per_rank": 1, "images": int(limit), "global_batch": 128,
        "rounds": rounds, "load_before": float(load0), "load_after": float(load1)}
json.dump({"meta": meta, "rows": rows}, open(f"{out}/multihost.json", "w"), indent=2)
ms = lambda x: f"{1e3 * x:.2f}"
lines = ["# Two network hosts: measured against predicted", "",
         f"{meta['date']}, {meta['cpu']}; 2 hosts (network namespaces on one machine, veth links through a bridge, "
         f"shaped with tc tbf both ways), 1 rank x 1 thread each, small-cnn PGD-7, global batch 128, "
         f"{limit} images; median of {rounds} alternating rounds; load average {load0} before, {load1} after.",
         "", "Prediction: `rampart plan --ranks 2 --step-costs <one-host calibration> --network-busbw-gbs B "
         "--network-latency-us L`, B and L fitted from the all-reduce measured across the same link "
         "(bench_allreduce, 4 KB-16 MB).", "",
         "| link | busbw GB/s (fit) | all-reduce of the gradients, ms: measured / predicted | exposed, ms: measured / predicted | step, ms: measured / predicted | error | images/s |",
         "|---|---|---|---|---|---|---|"]
for r in rows:
    lines.append(f"| {r['link']} | {r.get('busbw_GBps', 0):.2f} | {ms(r['measured_allreduce_s'])} / {ms(r['predicted_allreduce_s'])} | "
                 f"{ms(r['measured_exposed_s'])} / {ms(r['predicted_exposed_s'])} | {ms(r['measured_step_s'])} / {ms(r['predicted_step_s'])} | "
                 f"{r['step_error_pct']:+.1f}% | {r['images_per_s']:.0f} |")
lines += ["", "Command: `benchmarks/bench_multihost.sh` (env RATES, ROUNDS, LIMIT)."]
open(f"{out}/multihost.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
