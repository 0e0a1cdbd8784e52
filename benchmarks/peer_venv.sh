#!/usr/bin/env bash
# Prints the python of a virtual environment holding the newest PyTorch from PyPI (the peer
# of the speed comparisons), making it on first use: kept outside the repository in
# PEER_VENV (default ~/.cache/rampart/torch-venv) and reused. PEER_TORCH pins a version
# (e.g. PEER_TORCH=2.15.0); PEER_UPGRADE=1 fetches the newest again. The wheel from PyPI
# brings its CUDA libraries (several GB) although only its CPU path runs here.
set -euo pipefail
venv=${PEER_VENV:-$HOME/.cache/rampart/torch-venv}
py=$venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import torch, h5py, numpy" 2>/dev/null || [ -n "${PEER_UPGRADE:-}" ]; then
  if ! /usr/bin/python3 -c "import venv, ensurepip" 2>/dev/null; then
    echo "peer_venv: installing python3-venv" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  echo "peer_venv: installing torch${PEER_TORCH:+==$PEER_TORCH} from PyPI into $venv (minutes; reused afterwards)" >&2
  /usr/bin/python3 -m venv "$venv"
  "$py" -m pip install --quiet --upgrade pip >&2
  "$py" -m pip install --quiet --upgrade "torch${PEER_TORCH:+==$PEER_TORCH}" numpy h5py >&2
fi
echo "$py"
