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
expect 78 "--batch must be an integer in [1, 16777216], found 0" -- "$bin" train --data "$tmp/test.h5" --batch 0
# --device: an unknown one, and cuda where it cannot run. CUDA_VISIBLE_DEVICES= hides
# every GPU, so a CUDA build says "no GPU" and a CPU-only build "no CUDA backend" on
# any machine; both messages end with the same way out.
expect 78 "device: expected cpu or cuda, found \"tpu\"" -- "$bin" train --data "$tmp/test.h5" --device tpu
expect 78 "--device cuda: expected a" -- env CUDA_VISIBLE_DEVICES= "$bin" train --data "$tmp/test.h5" --device cuda
expect 78 "or use --device cpu" -- env CUDA_VISIBLE_DEVICES= "$bin" train --data "$tmp/test.h5" --device cuda
expect 78 "or use --device cpu" -- env CUDA_VISIBLE_DEVICES= "$bin" eval --checkpoint "$tmp/none.h5" \
  --data "$tmp/test.h5" --device cuda

# Numbers are checked where the configuration is built: range, NaN, infinities, overflow.
expect 78 "--timeout must be a number in (0, 2.592e+06], found 1e+10" -- "$bin" train --data "$tmp/test.h5" --timeout 1e10
expect 78 "--timeout must be a number in (0, 2.592e+06], found inf" -- "$bin" train --data "$tmp/test.h5" --timeout inf
expect 78 "--timeout must be a number in (0, 2.592e+06], found 1e+10" -- "$bin" eval --checkpoint "$tmp/none.h5" \
  --data "$tmp/test.h5" --timeout 1e10
expect 78 "--threads must be an integer in [0, 1024], found 100000" -- "$bin" train --data "$tmp/test.h5" --threads 100000
expect 78 "--threads must be an integer in [0, 1024]" -- "$bin" eval --checkpoint "$tmp/none.h5" --data "$tmp/test.h5" \
  --threads 100000
expect 78 "--bucket-mb must be a number in [0.000976562, 1024], found 1e-09" -- "$bin" train --data "$tmp/test.h5" --bucket-mb 1e-9
expect 78 "--bucket-mb must be a number in [0.000976562, 1024], found inf" -- "$bin" train --data "$tmp/test.h5" --bucket-mb inf
expect 78 "--momentum must be a number in [0, 1), found nan" -- "$bin" train --data "$tmp/test.h5" --momentum nan
expect 78 "--lr must be a number in (0, 1e+06], found nan" -- "$bin" train --data "$tmp/test.h5" --lr nan
expect 78 "--epochs must be an integer in [1, 1000000], found 0" -- "$bin" train --data "$tmp/test.h5" --epochs 0
expect 78 "--log-every must be an integer in [1," -- "$bin" train --data "$tmp/test.h5" --log-every 0
expect 78 "--eval-limit must be an integer in [0," -- "$bin" train --data "$tmp/test.h5" --eval-limit -5
expect 78 "--batch must be an integer in [1, 1048576], found 0" -- "$bin" eval --checkpoint "$tmp/none.h5" \
  --data "$tmp/test.h5" --batch 0
expect 78 "OMP_NUM_THREADS=100000 is more than 1024" -- env OMP_NUM_THREADS=100000 "$bin" train --data "$tmp/test.h5"
# A directory where the config file should be is refused, not read as an empty file.
expect 66 "is not a regular file" -- "$bin" train --config "$tmp" --data "$tmp/test.h5"

# The final evaluation's settings and test set are checked before training, not after it:
# these runs would train for minutes (--epochs 50) if the check came late; the CTest timeout
# of this test is far shorter.
expect 78 "evaluation attack (--eval-steps, --eval-alpha, --eval-restarts): steps must be >= 1, found 0" -- \
  "$bin" train --data "$tmp/test.h5" --test-data "$tmp/test.h5" --epochs 50 --eval-steps 0
# Small IDX files in the published format: 3 images of 14x14, and labels up to 12.
python3 - "$tmp" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
with gzip.open(f"{d}/small-images.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 3, 14, 14) + bytes(3 * 14 * 14))
with gzip.open(f"{d}/small-labels.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 3) + bytes([0, 1, 2]))
with gzip.open(f"{d}/wide-images.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 3, 28, 28) + bytes(3 * 28 * 28))
with gzip.open(f"{d}/wide-labels.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 3) + bytes([0, 5, 12]))
PY
"$bin" data import --images "$tmp/small-images.gz" --labels "$tmp/small-labels.gz" --out "$tmp/small.h5" >/dev/null
"$bin" data import --images "$tmp/wide-images.gz" --labels "$tmp/wide-labels.gz" --out "$tmp/wide.h5" >/dev/null
expect 65 "small.h5: images are [1, 14, 14] but the training images are [1, 28, 28]" -- \
  "$bin" train --data "$tmp/test.h5" --test-data "$tmp/small.h5" --epochs 50
expect 65 "wide.h5: has label 12 but the model has 10 outputs" -- \
  "$bin" train --data "$tmp/test.h5" --test-data "$tmp/wide.h5" --epochs 50

# A checkpoint with a NaN in its weights is refused, naming the array, not used as is.
"$bin" train --data "$tmp/test.h5" --limit 256 --epochs 1 --steps 1 --out "$tmp/run" >/dev/null 2>&1 ||
  { echo "FAIL: the small training run for the checkpoint cases"; failures=$((failures + 1)); }
cp "$tmp/run/checkpoint.h5" "$tmp/nan.h5"
/usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); f['model/0.weight'][0, 0, 0, 0] = float('nan')" \
  "$tmp/nan.h5"
expect 65 "checkpoint: /model/0.weight holds nan at index 0" -- "$bin" eval --checkpoint "$tmp/nan.h5" --data "$tmp/test.h5"
# A flipped exponent bit stays finite; the array's Fletcher-32 checksum catches it.
cp "$tmp/run/checkpoint.h5" "$tmp/flip.h5"
/usr/bin/python3 - "$tmp/flip.h5" <<'PY'
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    d = f["model/0.weight"]
    assert d.fletcher32, "checkpoint arrays must carry a Fletcher-32 checksum"
    off = d.id.get_chunk_info(0).byte_offset
with open(sys.argv[1], "r+b") as raw:
    raw.seek(off + 3)            # the high byte of the first float32: sign and exponent
    b = raw.read(1)[0]
    raw.seek(off + 3)
    raw.write(bytes([b ^ 0x20]))
PY
expect 65 "/model/0.weight: its checksum does not match its data" -- "$bin" eval --checkpoint "$tmp/flip.h5" \
  --data "$tmp/test.h5" --limit 100
expect 65 "wide.h5: has label 12 but the model has 10 outputs" -- \
  "$bin" eval --checkpoint "$tmp/run/checkpoint.h5" --data "$tmp/wide.h5"
# --resume with settings that fix which images each step trains on: refused, both values named.
expect 78 "was written with other batch 128 -> 64" -- "$bin" train --data "$tmp/test.h5" --limit 256 --epochs 2 \
  --steps 1 --out "$tmp/run" --resume --batch 64
expect 78 "was written with other limit 256 -> 512" -- "$bin" train --data "$tmp/test.h5" --limit 512 --epochs 2 \
  --steps 1 --out "$tmp/run" --resume

# What the fuzzers found (tests/fuzz/corpus/*/regression-*), through the real binary.
fz=$src/tests/fuzz/corpus
expect 65 "/model/2.weight: claims shape [1970324853751818, 16] (1.26e+17 bytes), more than the 18640-byte file" -- \
  "$bin" eval --checkpoint "$fz/checkpoint/regression-crash-88155a9bd25122" --data "$tmp/test.h5"
expect 78 "holds '%value%', which the option parser cannot handle" -- \
  "$bin" train --config "$fz/config/regression-timeout-5199e9d3a4c7" --data "$tmp/test.h5"
expect 64 "the argument '%value%' holds '%value%'" -- "$bin" train --data "$tmp/test.h5" --epochs '%value%'
expect 78 "model: the spec is not valid JSON: [json.exception.out_of_range.406] number overflow" -- \
  "$bin" train --data "$tmp/test.h5" --model '[{"type": "linear", "in_features": -999999e9999}]'

if [ "$failures" -ne 0 ]; then echo "$failures case(s) failed"; exit 1; fi
echo "all cases passed"
