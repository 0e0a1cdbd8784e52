# Shared by the multi-host tests (multihost_*.sh); sourced after mpi_train_lib.sh, not run.
# Starts HOSTS network hosts (netns_hosts.sh) in $work/net and sets MPIRUN_HOSTS: mpirun
# launching one rank per host through its ssh stand-in (netns_hosts.sh rsh), ranks talking TCP over the hosts' links
# only (no shared memory between hosts: btl tcp,self), Open MPI's own traffic on the same links.
# hosts_begin sets up a test: work folder, hosts, cleanup on exit.
# shellcheck shell=bash
NETNS_HOSTS=$here/netns_hosts.sh

# Exit 77 (skipped) where namespaces cannot be made.
hosts_start() {  # N
  if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v unshare >/dev/null; then
    say "skipped (needs root, iproute2 and unshare for network namespaces)"
    exit 77
  fi
  "$NETNS_HOSTS" start "$work/net" "$1" >/dev/null || die "could not make $1 network hosts"
  # shellcheck disable=SC1091
  source "$work/net/env"
  MPIRUN_HOSTS=(mpirun --hostfile "$work/net/hostfile" --bind-to none
                --mca plm_rsh_agent "$NETNS_HOSTS rsh $work/net"
                --mca oob_tcp_if_include "$RAMPART_NETNS_SUBNET"
                --mca btl tcp,self --mca btl_tcp_if_include "$RAMPART_NETNS_SUBNET")
}
hosts_cleanup() { "$NETNS_HOSTS" stop "$work/net" >/dev/null 2>&1 || true; }

# hosts_begin NAME N: the Fashion-MNIST import, a work folder in /var/tmp (not /tmp: the hosts
# share the machine's file system, as a cluster's shared one), N hosts, and an EXIT trap that
# kills the mpirun in $mp (if any), stops the hosts and removes the folder. Sets work, mp, T0.
hosts_begin() {
  ensure_data
  work=$(mktemp -d "/var/tmp/rampart-$1.XXXXXX")
  mp=""
  trap 'if [ -n "$mp" ]; then kill -KILL "$mp" 2>/dev/null || true; fi; hosts_cleanup; rm -rf "$work"' EXIT
  T0=$(now)
  hosts_start "$2"
}

# Bytes HOST has sent over its link so far.
host_tx_bytes() { "$NETNS_HOSTS" exec "$work/net" "$1" awk '$1 == "eth0:" { print $10 }' /proc/net/dev; }

# run_hosts NP NAME [train flags]: mpi_train_lib.sh's run, one rank per host.
run_hosts() { run_on MPIRUN_HOSTS "$@"; }
