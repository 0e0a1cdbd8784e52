#!/usr/bin/env bash
# The whole test suite from a fresh machine: installs what is missing, builds
# (the CUDA targets too where nvcc exists), and runs every test with CTest, as
# many at once as cores (each test's PROCESSORS and RESOURCE_LOCK are kept;
# RAMPART_TEST_JOBS=1 runs one at a time). GPU tests report "skipped" where no
# GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-slurm
scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j"${RAMPART_TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}" "$@"
