#!/usr/bin/env bash
# A real single-node Slurm cluster for tests (../shared/PLATFORM.md, "Single-node Slurm").
#   slurm_cluster.sh start  DIR   writes DIR/slurm.conf, starts munged (unless running),
#                                 slurmctld and slurmd, waits until the node is idle
#   slurm_cluster.sh stop   DIR   stops what start started, by recorded PID
#   slurm_cluster.sh status DIR   prints the node state; exit 0 when the node is up
# Clients need SLURM_CONF=DIR/slurm.conf (DIR/env holds the line to source).
# Ports: RAMPART_SLURM_PORT (default 6817) for slurmctld, the next one for slurmd.
# Several nodes: RAMPART_SLURM_HOSTS=NETNS_DIR (hosts made by netns_hosts.sh) makes one node per
# host, each with its own slurmd started on that host (its network, its hostname); slurmctld runs
# here, reached by the hosts at the bridge's address. Batch scripts then run on the first host.
# Needs root and the Debian packages slurm-wlm and munge (scripts/install-deps.sh --with-slurm).
set -euo pipefail

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 64; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
  if [ -S /run/munge/munge.socket.2 ] && munge -n </dev/null >/dev/null 2>&1; then
    return 0  # someone's munged already answers: share it, and leave it running on stop
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  [ -f /etc/munge/munge.key ] || { echo "slurm_cluster: /etc/munge/munge.key is missing (reinstall munge)" >&2; exit 1; }
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$dir/munged.pid"
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "slurm_cluster: munged did not start (see /var/log/munge/munged.log)" >&2
  exit 1
}

write_conf() {
  local host port cpus ctl nodes
  host=$(hostname -s)
  port=${RAMPART_SLURM_PORT:-6817}
  cpus=$(getconf _NPROCESSORS_ONLN)   # what slurmd sees (nproc follows OMP_NUM_THREADS and affinity)
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  if [ -n "${RAMPART_SLURM_HOSTS:-}" ]; then
    # shellcheck disable=SC1091
    source "$RAMPART_SLURM_HOSTS/env"
    ctl="$host($RAMPART_NETNS_ROOT_ADDR)"
    # Every host sees this machine's cores (slurmd checks the count against the hardware).
    nodes=$(awk -v c="$cpus" '{ printf "NodeName=%s NodeAddr=%s CPUs=%s State=UNKNOWN\n", $1, $3, c }' "$RAMPART_SLURM_HOSTS/hosts")
    partition_nodes=$(awk '{ printf "%s%s", (NR > 1 ? "," : ""), $1 }' "$RAMPART_SLURM_HOSTS/hosts")
    # Per-node temporary files (PMIx keeps its under fixed names there): the hosts share this
    # machine's file system, so each node gets a folder of its own.
    tmpfs_line="TmpFS=$dir/nodetmp/%n"
  else
    ctl=$host
    tmpfs_line=""
    nodes="NodeName=$host CPUs=$cpus State=UNKNOWN"
    partition_nodes=$host
  fi
  cat >"$conf" <<CONF
# Written by tests/scripts/slurm_cluster.sh: no accounting, no cgroups.
ClusterName=rampart
SlurmctldHost=$ctl
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
KillOnBadExit=1
# Slurm holds a requeued job for cred_expire + 1 s, so that the rerun's launch credential is newer
# than the revocation of the old run's (slurmd refuses a batch launch whose credential is not:
# "Job N already killed, do not launch batch job", and the job ends FAILED). Tests let Slurm
# release requeued jobs by itself, as on a real cluster; 10 s instead of the default 120 s keeps
# them short and is still far longer than any launch here takes to use its credential.
AuthInfo=cred_expire=${RAMPART_SLURM_CRED_EXPIRE:-10}
# Scheduling passes every 2 s instead of 60 s (main) and 30 s (backfill), so a released job starts soon.
SchedulerParameters=sched_interval=2,bf_interval=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid.slurm
SlurmdPidFile=$dir/slurmd.%n.pid.slurm
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.%n.log
$tmpfs_line
$nodes
PartitionName=debug Nodes=$partition_nodes Default=YES MaxTime=INFINITE State=UP
CONF
  echo "export SLURM_CONF=$conf" >"$dir/env"
}

# "idle" once every node is idle; otherwise the first state that is not.
node_state() { sinfo -h -N -o %T 2>/dev/null | sort -u | awk '{ s[NR] = $1 } END { if (NR == 1) print s[1]; else if (NR > 1) print (s[1] == "idle" ? s[2] : s[1]) }'; }

case $cmd in
  start)
    command -v slurmctld >/dev/null || { echo "slurm_cluster: slurmctld not found; run scripts/install-deps.sh --with-slurm" >&2; exit 1; }
    if alive "$dir/slurmctld.pid" || alive "$dir/slurmd.pid"; then
      echo "slurm_cluster: already running in $dir" >&2; exit 1
    fi
    start_munge
    write_conf
    # -D: stay in the foreground, so $! is the daemon and stop can kill it by PID.
    setsid slurmctld -D -i -f "$conf" >"$dir/log/slurmctld.out" 2>&1 </dev/null &
    echo $! >"$dir/slurmctld.pid"
    if [ -n "${RAMPART_SLURM_HOSTS:-}" ]; then
      : >"$dir/slurmd.pids"
      while read -r node _; do
        # Each node's slurmd on its host; -N names the node (the host's name too).
        mkdir -p "$dir/spool/$node" "$dir/nodetmp/$node"
        setsid "$(dirname "$0")/netns_hosts.sh" exec "$RAMPART_SLURM_HOSTS" "$node" \
          slurmd -D -N "$node" -f "$conf" >"$dir/log/slurmd.$node.out" 2>&1 </dev/null &
        echo $! >>"$dir/slurmd.pids"
      done <"$RAMPART_SLURM_HOSTS/hosts"
      head -n1 "$dir/slurmd.pids" >"$dir/slurmd.pid"
    else
      mkdir -p "$dir/spool/$(hostname -s)"
      setsid slurmd -D -f "$conf" >"$dir/log/slurmd.out" 2>&1 </dev/null &
      echo $! >"$dir/slurmd.pid"
    fi
    for _ in $(seq 150); do
      state=$(node_state || true)
      if [ "$state" = idle ]; then echo "slurm_cluster: $(sinfo -h -N -o %N | sort -u | tr '\n' ' ')idle (SLURM_CONF=$conf)"; exit 0; fi
      if ! alive "$dir/slurmctld.pid" || ! alive "$dir/slurmd.pid"; then break; fi
      sleep 0.2
    done
    echo "slurm_cluster: the nodes did not become idle (state '${state:-}'); logs:" >&2
    tail -n 20 "$dir/log/"*.log "$dir/log/"*.out >&2 || true
    "$0" stop "$dir" || true
    exit 1
    ;;
  stop)
    if [ -f "$dir/slurmd.pids" ]; then
      # Several nodes: each slurmd is started inside its host (netns_hosts.sh exec), so stop each slurmd by the PID
      # it wrote itself, then what started it.
      for f in "$dir"/slurmd.*.pid.slurm; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
      done
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$dir/slurmd.pids"
      rm -f "$dir/slurmd.pids" "$dir/slurmd.pid"
    fi
    for d in slurmd slurmctld munged; do
      f=$dir/$d.pid
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
      fi
      rm -f "$f"
    done
    echo "slurm_cluster: stopped ($dir)"
    ;;
  status)
    [ -f "$conf" ] || { echo "slurm_cluster: no cluster in $dir"; exit 1; }
    state=$(node_state || true)
    echo "slurm_cluster: node state '${state:-down}'"
    [ -n "$state" ]
    ;;
  *) usage ;;
esac
