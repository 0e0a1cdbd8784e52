#!/usr/bin/env bash
# Several network hosts on this machine, for multi-host tests and benchmarks (../shared/PLATFORM.md):
# one network namespace per host, each with its own hostname (a UTS namespace per command) and an
# eth0 joined to a bridge in the root namespace by a veth pair. Only addresses of the hosts made
# here are ever used.
#   netns_hosts.sh start DIR N        N hosts h1..hN on a free 10.213.X.0/24 (hK = .K, the root
#                                     namespace = .254); writes DIR/hosts ("name namespace address"),
#                                     DIR/hostfile (Open MPI, 1 slot each) and DIR/env
#   netns_hosts.sh stop DIR           kills every process left in the hosts, removes them
#   netns_hosts.sh exec DIR HOST CMD...  runs CMD on HOST (its network, its hostname)
#   netns_hosts.sh rsh DIR HOST CMD...   the same through "sh -c", as ssh (with keepalives) would run
#                                     it: Open MPI's launch agent (--mca plm_rsh_agent "netns_hosts.sh
#                                     rsh DIR"); see the rsh case below
#   netns_hosts.sh shape DIR HOST RATE   limits HOST's link to RATE (tc tbf, e.g. 10gbit), both ways;
#                                     RATE "off" removes the limit
#   netns_hosts.sh link DIR HOST up|down cuts or restores HOST's link (its eth0)
#   netns_hosts.sh signal DIR HOST SIG   sends SIG (KILL, STOP, CONT, ...) to every process on HOST
#   netns_hosts.sh pids DIR HOST         the processes on HOST
# Needs root and iproute2. Several sets may run at once (each picks its own subnet).
set -euo pipefail

usage() { sed -n '2,21p' "$0" >&2; exit 64; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2

host_field() {  # HOST FIELD(2 = namespace, 3 = address)
  awk -v h="$1" -v f="$2" '$1 == h { print $f; found = 1 } END { exit !found }' "$dir/hosts" ||
    { echo "netns_hosts: no host '$1' in $dir/hosts" >&2; exit 64; }
}
ns_of() { host_field "$1" 2; }

# Whether ADDR answers on the network: a TCP connection to a closed port is refused at once by a
# live host; one that is cut off gives no answer (no ping needed: iputils is not always there).
answers() {
  local rc=0
  timeout 1 bash -c ": </dev/tcp/$1/9" 2>/dev/null || rc=$?
  [ "$rc" -ne 124 ]
}

# Runs CMD in HOST's namespaces: its network, and a private UTS namespace with the host's name, so
# that Open MPI, PMIx and Slurm on each host see a host of their own. The file system stays the
# machine's (a cluster's shared file system; per-node files are kept apart by host name, and
# Slurm's by TmpFS=.../%n). No mount namespace: nsenter rather than `ip netns exec`, which
# remounts /sys (hiding the cgroup file systems slurmd needs), forks (so the PID started is not
# the command's), and cannot run in a chroot whose / is not a mount point (CI's fresh root;
# `ip -n` neither, for the same reason).
in_host() {
  local host=$1 ns
  shift
  ns=$(ns_of "$host")
  exec nsenter --net="/run/netns/$ns" unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$host" "$@"
}

make_set() {  # X N: the bridge, N hosts, DIR/hosts and DIR/hostfile; fails at the first error
  local x=$1 n=$2 i ns br=rp$1br
  ip link add "$br" type bridge || return 1
  ip addr add "10.213.$x.254/24" dev "$br" && ip link set "$br" up || return 1
  : >"$dir/hosts.tmp"
  : >"$dir/hostfile"
  for i in $(seq 1 "$n"); do
    ns=rampart-$x-h$i
    ip netns add "$ns" || return 1
    ip link add "rp${x}h$i" type veth peer name "rp${x}b$i" || return 1
    ip link set "rp${x}h$i" netns "$ns" &&
      nsenter --net="/run/netns/$ns" ip link set "rp${x}h$i" name eth0 &&
      nsenter --net="/run/netns/$ns" ip addr add "10.213.$x.$i/24" dev eth0 &&
      nsenter --net="/run/netns/$ns" ip link set lo up &&
      nsenter --net="/run/netns/$ns" ip link set eth0 up &&
      ip link set "rp${x}b$i" master "$br" &&
      ip link set "rp${x}b$i" up || return 1
    echo "h$i $ns 10.213.$x.$i rp${x}b$i" >>"$dir/hosts.tmp"
    echo "h$i slots=1" >>"$dir/hostfile"
  done
  mv "$dir/hosts.tmp" "$dir/hosts"
}
unmake_set() {  # X: removes what make_set made (the kernel frees a namespace after its last process)
  local x=$1 ns pids
  for ns in $(ip netns list | awk -v p="rampart-$x-" 'index($1, p) == 1 { print $1 }'); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "rp${x}br" 2>/dev/null || true
  rm -f "$dir/hosts" "$dir/hosts.tmp"
}

case $cmd in
  start)
    [ $# -eq 1 ] || usage
    n=$1
    [ "$(id -u)" -eq 0 ] || { echo "netns_hosts: needs root" >&2; exit 77; }
    command -v ip >/dev/null || { echo "netns_hosts: needs iproute2" >&2; exit 77; }
    mkdir -p "$dir"
    [ ! -f "$dir/hosts" ] || { echo "netns_hosts: $dir already holds hosts; stop them first" >&2; exit 1; }
    # A subnet and name tag no other set uses: mkdir of a lock folder per X is atomic. Names or
    # addresses still held (a set being torn down: the kernel frees a namespace, and its links,
    # only when its last process has gone) make us try the next X.
    mkdir -p /run/rampart-netns
    x=""
    for try in $(seq 0 249); do
      c=$(( ($$ + try) % 250 + 1 ))
      mkdir "/run/rampart-netns/$c" 2>/dev/null || continue
      if ip -o -4 addr | grep -q " 10\.213\.$c\." || ip netns list | grep -q "^rampart-$c-" ||
         ip -o link | grep -q ": rp${c}[bhr]"; then
        rmdir "/run/rampart-netns/$c"
        continue  # still held by a set being torn down, or one whose owner died: leave it alone
      fi
      echo "$dir" >"/run/rampart-netns/$c/owner"
      if make_set "$c" "$n" 2>"$dir/start.err"; then x=$c; break; fi
      unmake_set "$c"
      rm -rf "/run/rampart-netns/$c"
    done
    [ -n "$x" ] || { echo "netns_hosts: could not make the hosts: $(cat "$dir/start.err" 2>/dev/null)" >&2; exit 1; }
    echo "$x" >"$dir/tag"
    cat >"$dir/env" <<ENV
# Written by netns_hosts.sh: the subnet of these hosts, for Open MPI's TCP transports.
RAMPART_NETNS_SUBNET=10.213.$x.0/24
RAMPART_NETNS_ROOT_ADDR=10.213.$x.254
ENV
    # Every host answers before we return (the bridge learns the ports).
    for i in $(seq 1 "$n"); do
      for _ in $(seq 50); do
        answers "10.213.$x.$i" && break
        sleep 0.1
      done
    done
    echo "netns_hosts: $n hosts on 10.213.$x.0/24 ($dir/hosts)"
    ;;
  stop)
    [ -f "$dir/tag" ] || exit 0
    x=$(cat "$dir/tag")
    unmake_set "$x"
    rm -rf "/run/rampart-netns/$x" "$dir/tag"
    echo "netns_hosts: stopped ($dir)"
    ;;
  exec)
    [ $# -ge 2 ] || usage
    in_host "$@"
    ;;
  rsh)
    # Open MPI calls: AGENT HOST CMD... with CMD meant for a remote shell. The agent stays here, in
    # the root namespace (where ssh would run), and behaves as `ssh -o ServerAliveInterval=I -o
    # ServerAliveCountMax=C` does: a host that stops answering (its link cut, or every process on
    # it stopped, sshd included) for C probes I seconds apart ends the session with exit 255 and
    # "Timeout, server HOST not responding."; a host whose processes are all killed (sshd
    # included) ends it with "Connection to HOST closed by remote host.". Without that, mpirun
    # waits for an unreachable daemon until TCP gives up (many minutes).
    # Env: RAMPART_NETNS_ALIVE_INTERVAL (1 s), RAMPART_NETNS_ALIVE_COUNT (3).
    [ $# -ge 2 ] || usage
    host=$1
    shift
    addr=$(host_field "$host" 3)
    interval=${RAMPART_NETNS_ALIVE_INTERVAL:-1} count=${RAMPART_NETNS_ALIVE_COUNT:-3}
    # A session of its own, so that giving up can end everything it started on the host.
    setsid "$0" exec "$dir" "$host" sh -c "$*" &
    child=$!
    trap 'kill -TERM -- "-$child" 2>/dev/null' TERM INT HUP
    misses=0
    while kill -0 "$child" 2>/dev/null; do
      sleep "$interval" &
      wait $! 2>/dev/null || true
      kill -0 "$child" 2>/dev/null || break
      state=$(awk '{ print $3 }' "/proc/$child/stat" 2>/dev/null || echo gone)
      if [ "$state" = T ] || ! answers "$addr"; then
        misses=$((misses + 1))
      else
        misses=0
      fi
      if [ "$misses" -ge "$count" ]; then
        echo "Timeout, server $host not responding. (netns_hosts: $host, $addr, gave no answer for $count probes $interval s apart)" >&2
        kill -KILL -- "-$child" 2>/dev/null || true
        exit 255
      fi
    done
    rc=0
    wait "$child" || rc=$?
    if [ "$rc" -eq 137 ]; then
      echo "Connection to $host closed by remote host. (netns_hosts: every process on $host, $addr, was killed)" >&2
      exit 255
    fi
    exit "$rc"
    ;;
  shape)
    [ $# -eq 2 ] || usage
    ns=$(ns_of "$1") peer=$(host_field "$1" 4) rate=$2
    if [ "$rate" = off ]; then
      nsenter --net="/run/netns/$ns" tc qdisc del dev eth0 root 2>/dev/null || true
      tc qdisc del dev "$peer" root 2>/dev/null || true
    else
      # A token bucket each way: HOST's sends (its eth0) and what it receives (the bridge port).
      # burst: at least one 10 ms worth of bytes, so the rate holds at high speeds.
      burst=$(awk -v r="$rate" 'BEGIN { n = r + 0; u = r; sub(/^[0-9.]+/, "", u);
        m = (u ~ /^g/) ? 1e9 : (u ~ /^m/) ? 1e6 : (u ~ /^k/) ? 1e3 : 1; b = n * m / 8 / 100;
        if (b < 65536) b = 65536; printf "%d", b }')
      nsenter --net="/run/netns/$ns" tc qdisc replace dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms
      tc qdisc replace dev "$peer" root tbf rate "$rate" burst "$burst" latency 100ms
    fi
    ;;
  link)
    [ $# -eq 2 ] || usage
    case $2 in up|down) ;; *) usage ;; esac
    nsenter --net="/run/netns/$(ns_of "$1")" ip link set eth0 "$2"
    ;;
  signal)
    [ $# -eq 2 ] || usage
    pids=$(ip netns pids "$(ns_of "$1")")
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -s "$2" $pids
    ;;
  pids)
    [ $# -eq 1 ] || usage
    ip netns pids "$(ns_of "$1")"
    ;;
  *) usage ;;
esac
