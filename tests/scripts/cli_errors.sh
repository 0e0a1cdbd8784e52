#!/usr/bin/env bash
# Bad input through the real binary: each case must exit with the documented
# code and print one line that says what was expected and what was found.
# Usage: cli_errors.sh <rampart binary> <source dir> <fashion-mnist dir>
set -u
bin=$1; src=$2; fmnist=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
failures=0

# expect <code> <text in stderr> -- command...
expect() {
  local code=$1 text=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(grep -c . "$tmp/err")
  if [ "$rc" -ne "$code" ] || ! grep -qF -- "$text" "$tmp/err" || [ "$lines" -gt 3 ]; then
    echo "FAIL: $* -> rc $rc (expected $code), stderr ($lines lines):"; sed 's/^/    /' "$tmp/err" | head -5
    echo "    expected to contain: $text"
    failures=$((failures + 1))
  else
    echo "ok: rc $rc: $(head -1 "$tmp/err")"
  fi
}

# A small valid dataset to start from.
"$bin" data import --images "$fmnist/t10k-images-idx3-ubyte.gz" --labels "$fmnist/t10k-labels-idx1-ubyte.gz" \
  --out "$tmp/test.h5" >/dev/null || { echo "FAIL: import of the real test set"; exit 1; }

# Usage errors (64)
expect 64 "unrecognised option '--epoch'" -- "$bin" train --data "$tmp/test.h5" --epoch 3
expect 64 "unknown command \"trian\"" -- "$bin" trian
expect 64 "--data is required" -- "$bin" train
expect 64 "the argument ('many') for option '--epochs' is invalid" -- "$bin" train --data "$tmp/test.h5" --epochs many

# Missing input (66)
expect 66 "nope.h5: no such file (expected an HDF5 file)" -- "$bin" train --data "$tmp/nope.h5"
expect 66 "no such file (expected IDX" -- "$bin" data import --images "$tmp/nope-images.gz" --labels "$tmp/nope-labels.gz" --out "$tmp/x.h5"
expect 66 "config file $tmp/missing.ini does not exist" -- "$bin" train --config "$tmp/missing.ini" --data "$tmp/test.h5"
expect 66 "none.h5: no such file" -- "$bin" eval --checkpoint "$tmp/none.h5" --data "$tmp/test.h5"

# Bad data (65): truncated and corrupt files
head -c 100000 "$tmp/test.h5" >"$tmp/truncated.h5"
expect 65 "not a valid HDF5 file" -- "$bin" train --data "$tmp/truncated.h5"
head -c 4096 /dev/urandom >"$tmp/random.h5"
expect 65 "not a valid HDF5 file" -- "$bin" train --data "$tmp/random.h5"
gzip -dc "$fmnist/t10k-images-idx3-ubyte.gz" | head -c 5000 >"$tmp/trunc-images"
expect 65 "expected 7840000 bytes of pixels for 10000 images of 28x28" -- \
  "$bin" data import --images "$tmp/trunc-images" --labels "$fmnist/t10k-labels-idx1-ubyte.gz" --out "$tmp/y.h5"
expect 65 "magic" -- "$bin" data import --images "$fmnist/t10k-labels-idx1-ubyte.gz" \
  --labels "$fmnist/t10k-labels-idx1-ubyte.gz" --out "$tmp/y.h5"
[ ! -e "$tmp/y.h5" ] || { echo "FAIL: a failed import left $tmp/y.h5 behind"; failures=$((failures + 1)); }

# Bad configuration (78)
expect 78 "unknown layer type \"conv3d\"" -- "$bin" train --data "$tmp/test.h5" \
  --model '[{"type": "conv3d", "in_channels": 1, "out_channels": 4, "kernel_size": 3}]'
expect 78 "in_channels" -- "$bin" train --data "$tmp/test.h5" \
  --model '[{"type": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3}, {"type": "flatten"}, {"type": "linear", "in_features": 2704, "out_features": 10}]'
expect 78 "eps must be a number >= 0, found -0.1" -- "$bin" train --data "$tmp/test.h5" --eps -0.1
expect 78 "steps must be >= 1, found 0" -- "$bin" train --data "$tmp/test.h5" --steps 0
expect 78 "steps must be >= 1, found 0" -- "$bin" eval --checkpoint "$tmp/none.h5" --data "$tmp/test.h5" --attack pgd --steps 0
expect 78 "unknown model \"resnet-9000\"" -- "$bin" train --data "$tmp/test.h5" --model resnet-9000
printf 'epochs = 2\nlearning-rate = 0.1\n' >"$tmp/bad.ini"
expect 78 "learning-rate" -- "$bin" train --config "$tmp/bad.ini" --data "$tmp/test.h5"
expect 78 "batch must be >= 1, found 0" -- "$bin" train --data "$tmp/test.h5" --batch 0
# --device: an unknown one, and cuda where it cannot run. CUDA_VISIBLE_DEVICES= hides
# every GPU, so a CUDA build says "no GPU" and a CPU-only build "no CUDA backend" on
# any machine; both messages end with the same way out.
expect 78 "device: expected cpu or cuda, found \"tpu\"" -- "$bin" train --data "$tmp/test.h5" --device tpu
expect 78 "--device cuda: expected a" -- env CUDA_VISIBLE_DEVICES= "$bin" train --data "$tmp/test.h5" --device cuda
expect 78 "or use --device cpu" -- env CUDA_VISIBLE_DEVICES= "$bin" train --data "$tmp/test.h5" --device cuda
expect 78 "or use --device cpu" -- env CUDA_VISIBLE_DEVICES= "$bin" eval --checkpoint "$tmp/none.h5" \
  --data "$tmp/test.h5" --device cuda

if [ "$failures" -ne 0 ]; then echo "$failures case(s) failed"; exit 1; fi
echo "all cases passed"
