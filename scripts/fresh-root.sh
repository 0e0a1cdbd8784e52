#!/usr/bin/env bash
# Runs a command in a brand-new minimal Debian 12 root, as a newcomer's machine starts: only
# Debian's minimal base system (debootstrap --variant=minbase), the committed project (git HEAD,
# cloned in, so uncommitted changes are not there) and the machine's /usr/local (which holds the
# CUDA toolkit on the machines rampart is built on), carried in read-only. Whatever this machine
# got installed by earlier work is absent, so a missing install step fails here, not for a user.
#
#   scripts/fresh-root.sh                          # scripts/test.sh
#   scripts/fresh-root.sh 'EPOCHS=1 scripts/fmnist.sh'
#   KEEP=1 scripts/fresh-root.sh ...               # keep the root for a look afterwards
#
# The root runs in its own mount and PID namespaces: its mounts never show outside, and every
# process started inside (munged, slurmd, MPI ranks) ends with the command.
# Cached between runs in FRESH_ROOT_CACHE (default /var/cache/rampart-fresh-root): the installed
# base system (rebuilt when older than FRESH_ROOT_MAX_AGE_DAYS, default 14) and the .deb files
# apt downloaded. Nothing else a user would not have. Needs root. Exit status: the command's.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "fresh-root: needs root (debootstrap, mounts, chroot)" >&2; exit 1; }
project=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
cmd=${*:-scripts/test.sh}
cache=${FRESH_ROOT_CACHE:-/var/cache/rampart-fresh-root}
max_age=${FRESH_ROOT_MAX_AGE_DAYS:-14}
suite=bookworm
say() { echo "fresh-root: $*" >&2; }

[ -z "$(git -C "$project" status --porcelain --untracked-files=no)" ] ||
  say "warning: $project has uncommitted changes; the root gets git HEAD ($(git -C "$project" rev-parse --short HEAD)) only"
for tool in debootstrap unshare chroot; do
  command -v "$tool" >/dev/null && continue
  say "installing debootstrap on this machine"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
done
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { say "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"; exit 1; }

mkdir -p "$cache/debs" "$cache/apt-archives/partial"
exec 9>"$cache/lock"
flock 9   # one fresh root at a time shares the cache

# The installed base system, made once and unpacked in seconds afterwards.
base=$cache/$suite-minbase.tar
if [ ! -f "$base" ] || [ -n "$(find "$base" -mtime +"$max_age" 2>/dev/null)" ]; then
  say "making the $suite minbase system from $mirror (a minute or two; cached in $cache)"
  tmp=$(mktemp -d "$cache/base.XXXXXX")
  chmod 755 "$tmp"   # becomes the root's / (tar keeps it): 0700 would lock out every user but root
  if ! debootstrap --variant=minbase --cache-dir="$cache/debs" "$suite" "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
    tail -n 20 "$cache/debootstrap.log" >&2; rm -rf --one-file-system "$tmp"; say "debootstrap failed"; exit 1
  fi
  tar -C "$tmp" -cf "$base.new" . && mv "$base.new" "$base"
  rm -rf --one-file-system "$tmp"
fi
root=$(mktemp -d "${TMPDIR:-/tmp}/fresh-root.XXXXXX")
cleanup() {
  if [ -n "${KEEP:-}" ]; then say "kept $root"; return; fi
  # The mounts lived in the namespace, which is gone; never delete through one that is not.
  if grep -q " $root/" /proc/mounts; then say "$root still has mounts; not removed"; return; fi
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xpf "$base"
chmod 755 "$root"   # whatever the cached tar says: a / of 0700 locks out the munge user

# What a newcomer's machine has besides the base: its apt sources, name resolution, a host name.
cp /etc/resolv.conf /etc/hosts "$root/etc/" 2>/dev/null || true
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  : >"$root/etc/apt/sources.list"
fi
hostname >"$root/etc/hostname"
mkdir -p "$root/root"
git clone -q "$project" "$root/root/project"

say "running '$cmd' in a fresh Debian 12 root ($root)"
start=$(date +%s)
set +e
# shellcheck disable=SC2016
unshare --mount --propagation private --pid --fork --kill-child /bin/bash -c '
  set -e
  root=$1 cache=$2 cmd=$3
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=1777 shm "$root/dev/shm"   # shared memory of its own (MPI uses it)
  mount --rbind /usr/local "$root/usr/local"
  mount -o remount,bind,ro "$root/usr/local"
  mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
  chroot "$root" chown _apt:root /var/cache/apt/archives/partial   # apt downloads as _apt
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb CI=true /bin/bash -c "cd /root/project && $cmd" || exit $?  # not exec: this bash stays PID 1
' fresh-root "$root" "$cache" "$cmd"
rc=$?
set -e
say "exit $rc after $(( $(date +%s) - start )) s"
exit $rc
