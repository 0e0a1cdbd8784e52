# Shared by the schedule_*.sh tests: a temporary folder with Fashion-MNIST imported, and
# a JSON field reader. Source with RAMPART set to the binary.
set -euo pipefail
FMNIST=${RAMPART_FMNIST:-/usr/share/datasets/fashion-mnist}
if [[ ! -f $FMNIST/train-images-idx3-ubyte.gz ]]; then echo "skipped: no Fashion-MNIST at $FMNIST"; exit 77; fi
work=$(mktemp -d /tmp/rampart-schedule.XXXXXX)
trap 'rm -rf "$work"' EXIT
import_data() {
  "$RAMPART" data import --images "$FMNIST/train-images-idx3-ubyte.gz" --labels "$FMNIST/train-labels-idx1-ubyte.gz" \
    --out "$work/train.h5" >/dev/null
  "$RAMPART" data import --images "$FMNIST/t10k-images-idx3-ubyte.gz" --labels "$FMNIST/t10k-labels-idx1-ubyte.gz" \
    --out "$work/test.h5" >/dev/null
}
fail() { echo "FAIL: $*"; exit 1; }
# py EXPR FILE: evaluates EXPR with d = the JSON object in FILE.
py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$2"; }
