#!/usr/bin/env bash
# Attacks a rampart checkpoint with independent attacks (PyTorch + torchattacks:
# PGD-20, PGD-50 with 3 restarts, APGD-CE, APGD-DLR; AutoAttack, the authors' code from PyPI's
# pyautoattack); see independent_attack.py.
# Usage: benchmarks/independent_attack.sh CHECKPOINT [--data data/test.h5] [--limit 1000] [--attacks ...]
# Installs Debian's python3-torch and torchattacks (pure Python, into build/pydeps) if missing.
# PEER=1 runs it under the newest PyTorch from PyPI instead (benchmarks/peer_venv.sh: a virtual
# environment kept outside the repository, reused; several times faster than Debian's 1.13 here).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "independent_attack.sh: expected a checkpoint file as the first argument, found '${1:-}'" >&2
  exit 64
fi
deps=build/pydeps
if [ "${PEER:-0}" = 1 ]; then
  py=$(benchmarks/peer_venv.sh)
  "$py" -c "import scipy" 2>/dev/null || "$py" -m pip install --quiet scipy >&2  # torchattacks imports it
  mkdir -p "$deps"
else
  scripts/install-deps.sh --with-torch >&2
  py=/usr/bin/python3
fi
if ! PYTHONPATH=$deps "$py" -c "import torchattacks, pyautoattack" 2>/dev/null; then
  if python3 -m pip --version >/dev/null 2>&1; then pip=(python3 -m pip)
  else
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    pip=(/usr/bin/python3 -m pip)
  fi
  "${pip[@]}" install --quiet --no-deps --target "$deps" torchattacks==3.5.1 pyautoattack==0.2.0 >&2
fi
ck=$1
shift
PYTHONPATH=$deps exec "$py" benchmarks/independent_attack.py --checkpoint "$ck" "$@"
