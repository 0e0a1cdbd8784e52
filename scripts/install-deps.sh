#!/usr/bin/env bash
# Installs what rampart needs on Debian 12 (../shared/PLATFORM.md), skipping what is there.
# Usage: scripts/install-deps.sh [--with-slurm] [--with-torch] [--with-fuzz]
set -euo pipefail

# Every package the build, the tests and the main job use, by name: apt runs with
# --no-install-recommends, so nothing arrives as a recommendation. oneDNN's CMake package calls
# find_package(OpenCL), which needs ocl-icd-opencl-dev (only a Recommends of libdnnl-dev).
# procps: pgrep/pkill/ps in the tests and the Slurm template. libjpeg62-turbo-dev and libpng-dev:
# image decoding for `rampart data import --format folder`. iproute2: the multi-host tests' network
# namespaces (tests/scripts/netns_hosts.sh).
pkgs=(build-essential cmake pkg-config zlib1g-dev libjpeg62-turbo-dev libpng-dev
      libopenmpi-dev openmpi-bin libhdf5-dev libboost-program-options-dev
      libdnnl-dev ocl-icd-opencl-dev libopenblas-dev nlohmann-json3-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      dataset-fashion-mnist python3 python3-numpy python3-h5py procps iproute2)
for arg in "$@"; do
  case "$arg" in
    --with-slurm) pkgs+=(slurm-wlm munge) ;;
    --with-torch) pkgs+=(python3-torch python3-torchvision python3-matplotlib) ;;
    # libFuzzer and the sanitizers' runtimes; llvm for llvm-symbolizer (named frames in reports,
    # which the HDF5 fuzz targets read to tell HDF5's crashes from rampart's)
    --with-fuzz) pkgs+=(clang libclang-rt-14-dev libomp-dev llvm) ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --with-slurm, --with-torch or --with-fuzz)" >&2; exit 64 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
log=$(mktemp)
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "install-deps: apt-get install failed (above); fix what it says and run this again" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
echo "install-deps: done"
