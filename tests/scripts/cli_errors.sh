#!/usr/bin/env bash
# Bad input through the real binary: each case must exit with the documented
# code and print one line that says what was expected and what was found.
# Usage: cli_errors.sh <rampart binary> <source dir> <fashion-mnist dir>
set -u
bin=$1; src=$2; fmnist=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
failures=0
mkdir "$tmp/cases"
jobs_max=${CLI_ERRORS_JOBS:-4}   # cases run side by side: each one is mostly the binary's start-up
cases=0

# expect <code> <text in stderr> -- command...: runs in the background, its verdict in
# $tmp/cases/<n>; report (at the end) prints them in order. Commands that prepare files for
# later cases run in the foreground, between cases; settle waits for the running cases first.
expect() {
  local code=$1 text=$2; shift 3
  cases=$((cases + 1))
  local c=$tmp/cases/$(printf %04d "$cases")
  (
    "$@" >"$c.out" 2>"$c.err"; rc=$?
    lines=$(grep -c . "$c.err")
    if [ "$rc" -ne "$code" ] || ! grep -qF -- "$text" "$c.err" || [ "$lines" -gt 3 ]; then
      { echo "FAIL: $* -> rc $rc (expected $code), stderr ($lines lines):"; sed 's/^/    /' "$c.err" | head -5
        echo "    expected to contain: $text"; } >"$c"
    else
      echo "ok: rc $rc: $(head -1 "$c.err")" >"$c"
    fi
  ) &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
}
settle() { wait; }
report() {
  settle
  cat "$tmp"/cases/[0-9][0-9][0-9][0-9]
  local failed; failed=$(cat "$tmp"/cases/[0-9][0-9][0-9][0-9] | grep -c '^FAIL')
  failures=$((failures + failed))
  echo "$cases cases, $failed failed"
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
settle
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
# plan --device cuda calibrates on that device; without one it says how to plan from costs measured there.
expect 78 "--step-costs FILE" -- env CUDA_VISIBLE_DEVICES= "$bin" plan --data "$tmp/test.h5" --device cuda

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
# (its binary bytes are refused before the option parser sees them; the '%value%' path is below)
expect 78 "holds control byte 1 at offset 82; expected a text file of key = value lines" -- \
  "$bin" train --config "$fz/config/regression-timeout-5199e9d3a4c7" --data "$tmp/test.h5"
expect 64 "the argument '%value%' holds '%value%'" -- "$bin" train --data "$tmp/test.h5" --epochs '%value%'
expect 78 "model: the spec is not valid JSON: [json.exception.out_of_range.406] number overflow" -- \
  "$bin" train --data "$tmp/test.h5" --model '[{"type": "linear", "in_features": -999999e9999}]'

# ---------------------------------------------------------------------------------------------
# Every flag of every subcommand, and every kind of input file. Cases that would train if the
# check were missing carry $small (64 images, 1 epoch, 1 attack step: well under a second).
small=(--limit 64 --batch 32 --epochs 1 --steps 1)
ck=$tmp/run/checkpoint.h5
ev=(--checkpoint "$ck" --data "$tmp/test.h5" --limit 64)

# Fixtures: datasets with the right names but the wrong dtype/rank/shape/attributes, damaged
# checkpoints, IDX files, step-costs files (h5py and numpy: Debian's python3, not a venv's).
/usr/bin/python3 - "$tmp" "$ck" <<'PY' || { echo "FAIL: writing the fixtures"; failures=$((failures + 1)); }
import gzip, json, shutil, struct, sys
import h5py, numpy as np
d, ck = sys.argv[1], sys.argv[2]
img = np.zeros((8, 1, 28, 28), np.uint8); lab = np.arange(8, dtype=np.uint8)
def ds(name, images, labels, classes=10):
    with h5py.File(f"{d}/{name}.h5", "w") as f:
        if images is not None: f["images"] = images
        if labels is not None: f["labels"] = labels
        if classes is not None: f.attrs["classes"] = classes
ds("d-f32", img.astype(np.float32), lab)
ds("d-rank3", img[:, 0], lab)
ds("d-lab2d", img, lab.reshape(8, 1))
ds("d-labi8", img, lab.astype(np.int8))
ds("d-labi64", img, lab.astype(np.int64) * 100, classes=300)  # int64: valid for many classes, 300 out of range
ds("d-count", img, lab[:5])
ds("d-nolabels", img, None)
ds("d-noclasses", img, lab, classes=None)
ds("d-classes2m", img, lab, classes=2000000)
ds("d-classes5", img, lab, classes=5)
ds("d-classesstr", img, lab, classes="ten")
ds("d-scalar", np.uint8(3), lab)
ds("d-3ch", np.zeros((8, 3, 28, 28), np.uint8), lab)
ds("d-empty", np.zeros((0, 1, 28, 28), np.uint8), np.zeros(0, np.uint8))
def damaged(name, fn):
    shutil.copy(ck, f"{d}/{name}.h5")
    with h5py.File(f"{d}/{name}.h5", "r+") as f: fn(f)
damaged("c-format", lambda f: f.attrs.__setitem__("format", "pytorch"))
damaged("c-v2", lambda f: f.attrs.__setitem__("version", 2))
damaged("c-versionstr", lambda f: f.attrs.__setitem__("version", "one"))
damaged("c-noarch", lambda f: f.attrs.__delitem__("arch_json"))
damaged("c-archbad", lambda f: f.attrs.__setitem__("arch_json", "[{not json"))
damaged("c-archobj", lambda f: f.attrs.__setitem__("arch_json", '{"type": "relu"}'))
def archdup(f):  # layer 1 (relu) given "type" twice; the rest as written
    a = f.attrs["arch_json"]; a = a.decode() if isinstance(a, bytes) else a
    f.attrs["arch_json"] = json.dumps(json.loads(a)).replace('"type": "relu"', '"type": "relu", "type": "flatten"', 1)
damaged("c-archdup", archdup)
damaged("c-nomodel", lambda f: f.__delitem__("model"))
damaged("c-noweight", lambda f: f.__delitem__("model/0.weight"))
def reshape(f):
    del f["model/0.weight"]; f["model/0.weight"] = np.zeros((16, 1, 3, 3), np.float32)
damaged("c-shape", reshape)
def flat(f):
    a = f["model/0.weight"][...]; del f["model/0.weight"]; f["model/0.weight"] = a.reshape(32, 9)
damaged("c-flat", flat)
damaged("c-extra", lambda f: f.__setitem__("model/5.weight", np.zeros((4, 4), np.float32)))
def widen(f):
    a = f["model/0.weight"][...]; del f["model/0.weight"]; f["model/0.weight"] = a.astype(np.float64)
damaged("c-f64", widen)
def inf(f): f["model/9.bias"][3] = np.inf
damaged("c-inf", inf)
def idx(name, data, gz=True):
    with (gzip.open if gz else open)(f"{d}/{name}", "wb") as f: f.write(data)
idx("i3", struct.pack(">IIII", 0x803, 3, 4, 4) + bytes(48), gz=False)
idx("l3", struct.pack(">II", 0x801, 3) + bytes([0, 1, 2]), gz=False)
idx("l4", struct.pack(">II", 0x801, 4) + bytes([0, 1, 2, 3]), gz=False)
idx("i0.gz", struct.pack(">IIII", 0x803, 0, 4, 4))
idx("l0.gz", struct.pack(">II", 0x801, 0))
idx("i-0x4.gz", struct.pack(">IIII", 0x803, 3, 0, 4))
idx("i-huge.gz", struct.pack(">IIII", 0x803, 0xffffffff, 0xffffffff, 0xffffffff))
idx("i-trail.gz", struct.pack(">IIII", 0x803, 3, 4, 4) + bytes(60))
idx("l-trail", struct.pack(">II", 0x801, 3) + bytes([0, 1, 2, 7]), gz=False)
idx("i-f32.gz", struct.pack(">IIII", 0xD03, 3, 4, 4) + bytes(48 * 4))
idx("i-4d.gz", struct.pack(">IIIII", 0x804, 3, 1, 4, 4) + bytes(48))
idx("i-hdr.gz", struct.pack(">II", 0x803, 3))
idx("empty", b"", gz=False)
with open(f"{d}/i3.gz", "wb") as f: f.write(gzip.compress(struct.pack(">IIII", 0x803, 3, 4, 4) + bytes(48))[:30])
costs = {"allreduce_s": 0.0, "bwd_full_s": 0.2, "bwd_input_s": 0.08, "data_s": 0.0, "eval_s_per_image": 0.04,
         "fwd_s": 0.035, "local_batch": 64, "measured_world": 1, "optimizer_s": 8e-05, "overlap_fraction": 0.0,
         "pgd_update_s": 0.0}
def sc(name, **kw):
    c = dict(costs); c.update(kw)
    with open(f"{d}/{name}.json", "w") as f: json.dump({"calibration": c}, f)
sc("sc-ok"); sc("sc-neg", fwd_s=-1.0); sc("sc-overlap", overlap_fraction=1.5); sc("sc-str", fwd_s="fast")
sc("sc-world0", measured_world=0)
c = dict(costs); del c["bwd_full_s"]
with open(f"{d}/sc-missing.json", "w") as f: json.dump(c, f)
with open(f"{d}/sc-dup.json", "w") as f: f.write(json.dumps(costs).replace('"fwd_s": 0.035', '"fwd_s": 0.035, "fwd_s": 9'))
with open(f"{d}/sc-binary", "wb") as f: f.write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
with open(f"{d}/sc-big.json", "w") as f: f.write(json.dumps(costs).replace('"fwd_s": 0.035', '"fwd_s": 1e999'))
PY
ln -s "$tmp/nowhere" "$tmp/dangling"

# Stray words and flag syntax (64): a value whose flag was dropped must not be ignored.
expect 64 "train: unexpected argument 'extra'" -- "$bin" train --data "$tmp/test.h5" extra "${small[@]}"
expect 64 "eval: unexpected argument 'more'" -- "$bin" eval "${ev[@]}" more
expect 64 "plan: unexpected argument 'x.h5'" -- "$bin" plan --data "$tmp/test.h5" x.h5
expect 64 "data import: unexpected argument 'stray'" -- "$bin" data import --images "$tmp/i3" --labels "$tmp/l3" \
  --out "$tmp/z.h5" stray
expect 64 "option '--model' cannot be specified more than once" -- "$bin" train --data "$tmp/test.h5" --model mlp \
  --model small-cnn
expect 64 "the required argument for option '--data' is missing" -- "$bin" train --data
expect 64 "('maybe') for option '--eval-fgsm' is invalid. Valid choices are" -- "$bin" train --data "$tmp/test.h5" \
  --eval-fgsm maybe
expect 64 "train: option '--json' does not take any arguments" -- "$bin" train --data "$tmp/test.h5" --json=yes
expect 64 "eval: option '--json' does not take any arguments" -- "$bin" eval "${ev[@]}" --json=1
expect 64 "data import: the required argument for option '--source' is missing" -- "$bin" data import \
  --images "$tmp/i3" --labels "$tmp/l3" --out "$tmp/z.h5" --source
expect 78 "--network-latency-us must be >= 0 microseconds, found -1;" -- "$bin" plan --data "$tmp/test.h5" \
  --network-latency-us -1
expect 64 "('1e3') for option '--epochs' is invalid" -- "$bin" train --data "$tmp/test.h5" --epochs 1e3
expect 64 "('2.5') for option '--steps' is invalid" -- "$bin" train --data "$tmp/test.h5" --steps 2.5
expect 64 "('1e100') for option '--batch' is invalid" -- "$bin" train --data "$tmp/test.h5" --batch 1e100
expect 64 "('1e39') for option '--eps' is invalid" -- "$bin" eval "${ev[@]}" --eps 1e39
expect 64 "('99999999999') for option '--ranks' is invalid" -- "$bin" plan --data "$tmp/test.h5" --ranks 99999999999
expect 64 "train: unrecognised option '--step-costs'" -- "$bin" train --data "$tmp/test.h5" --step-costs x.json
expect 64 "eval: unrecognised option '--epochs'" -- "$bin" eval "${ev[@]}" --epochs 3
expect 64 "eval: --checkpoint is required" -- "$bin" eval --data "$tmp/test.h5"
expect 64 "eval: --data is required" -- "$bin" eval --checkpoint "$ck"
expect 64 "plan: --data is required" -- "$bin" plan --ranks 4
expect 64 "data import: --labels is required" -- "$bin" data import --images "$tmp/i3" --out "$tmp/z.h5"
expect 64 "data: expected the subcommand \"import\", found \"export\"" -- "$bin" data export --out "$tmp/z.h5"
# Seeds: Boost reads "-1" as 2^64-1; a sign or an overflow is refused.
expect 64 "('-1') for option '--seed' is invalid: expected a seed, an integer in [0, 18446744073709551615]" -- \
  "$bin" train --data "$tmp/test.h5" --seed -1 "${small[@]}"
expect 64 "('18446744073709551616') for option '--seed' is invalid" -- "$bin" eval "${ev[@]}" --seed 18446744073709551616
expect 64 "('-7') for option '--seed' is invalid" -- "$bin" eval "${ev[@]}" --seed -7
# Conflicting flags.
expect 64 "--resume continues from <out>/checkpoint.h5 and needs --out" -- "$bin" train --data "$tmp/test.h5" --resume \
  "${small[@]}"
expect 78 "expected one price, found both --price-per-gpu-hour 1 and --price-per-node-hour 3" -- "$bin" train \
  --data "$tmp/test.h5" --budget-usd 1 --price-per-gpu-hour 1 --price-per-node-hour 3 --gpus-per-node 2
expect 78 "--schedule budgeted plans L-inf PGD and FGSM-RS steps; found --attack fgsm" -- "$bin" train \
  --data "$tmp/test.h5" --schedule budgeted --attack fgsm
expect 78 "a budget needs an attack to plan: found --attack none" -- "$bin" train --data "$tmp/test.h5" \
  --schedule fixed --attack none --budget-usd 1 --price-per-gpu-hour 1
expect 78 "--budget-usd needs a price" -- "$bin" train --data "$tmp/test.h5" --budget-usd 1
expect 78 "--price-per-node-hour needs --gpus-per-node" -- "$bin" train --data "$tmp/test.h5" --budget-usd 1 \
  --price-per-node-hour 3

# Numbers of rampart train (78): range, NaN, infinities, signs.
expect 78 "--epochs must be an integer in [1, 1000000], found -1" -- "$bin" train --data "$tmp/test.h5" --epochs -1
expect 78 "--batch must be an integer in [1, 16777216], found -5" -- "$bin" train --data "$tmp/test.h5" --batch -5
expect 78 "--limit must be an integer in [0, 1099511627776], found -1" -- "$bin" train --data "$tmp/test.h5" --limit -1
expect 78 "--eval-limit must be an integer in [0, 1099511627776], found 99999999999999" -- "$bin" train \
  --data "$tmp/test.h5" --eval-limit 99999999999999
# --val-split: negative, all of --limit, all of the data (checked where the data is read).
expect 78 "--val-split must be 0 (off) or the number of training images to hold out for the per-epoch validation, found -1; give e.g. --val-split 1000" -- \
  "$bin" train --data "$tmp/test.h5" --val-split -1
expect 78 "--val-split must be below the number of training images (256 after --limit): the held-out images are not trained on; found 256; give e.g. --val-split 25" -- \
  "$bin" train --data "$tmp/test.h5" --limit 256 --val-split 256
expect 78 "--val-split must be below the number of training images (10000): the held-out images are not trained on; found 20000; give e.g. --val-split 1000" -- \
  "$bin" train --data "$tmp/test.h5" --val-split 20000
expect 78 "--lr must be a number in (0, 1e+06], found 0" -- "$bin" train --data "$tmp/test.h5" --lr 0
expect 78 "--lr must be a number in (0, 1e+06], found 1e+07" -- "$bin" train --data "$tmp/test.h5" --lr 1e7
expect 78 "--warmup must be a number in [0, 1), found 1" -- "$bin" train --data "$tmp/test.h5" --warmup 1
expect 78 "--warmup must be a number in [0, 1), found -0.1" -- "$bin" train --data "$tmp/test.h5" --warmup -0.1
expect 78 "--momentum must be a number in [0, 1), found 1" -- "$bin" train --data "$tmp/test.h5" --momentum 1
expect 78 "--weight-decay must be a number in [0, 1], found nan" -- "$bin" train --data "$tmp/test.h5" --weight-decay nan
expect 78 "--weight-decay must be a number in [0, 1], found 2" -- "$bin" train --data "$tmp/test.h5" --weight-decay 2
expect 78 "training attack: eps must be a number >= 0, found nan" -- "$bin" train --data "$tmp/test.h5" --eps nan
expect 78 "training attack: eps must be <= 1 for pixels in [0,1], found 2" -- "$bin" train --data "$tmp/test.h5" --eps 2
expect 78 "training attack: step size must be > 0, found 0" -- "$bin" train --data "$tmp/test.h5" --alpha 0
expect 78 "training attack: steps must be >= 1, found -3 (use --attack none for clean training)" -- "$bin" train \
  --data "$tmp/test.h5" --steps -3
# Attack sizes have an upper bound: --steps 1000000000 would never end (fgsm and none run no steps, so
# without the bound these cases would exit 0 at once).
expect 78 "--steps must be an integer in [1, 10000], found 1000000000" -- "$bin" train --data "$tmp/test.h5" \
  --limit 64 --batch 32 --epochs 1 --attack none --steps 1000000000
expect 78 "--eval-steps must be an integer in [1, 10000], found 10001" -- "$bin" train --data "$tmp/test.h5" \
  --eval-steps 10001 "${small[@]}"
expect 78 "--eval-restarts must be an integer in [1, 1000], found 1001" -- "$bin" train --data "$tmp/test.h5" \
  --eval-restarts 1001 "${small[@]}"
expect 78 "--steps must be an integer in [1, 10000], found 10001" -- "$bin" eval "${ev[@]}" --attack fgsm --steps 10001
expect 78 "--restarts must be an integer in [1, 1000], found 1001" -- "$bin" eval "${ev[@]}" --attack fgsm --restarts 1001
# Flags the chosen attack does not use are still checked, not silently ignored.
expect 78 "--eps, --alpha, --steps (unused by --attack fgsm): step size must be > 0, found nan" -- "$bin" train \
  --data "$tmp/test.h5" --attack fgsm --alpha nan --limit 64 --epochs 1
expect 78 "--eps, --alpha, --steps (unused by --attack none): steps must be >= 1, found -5" -- "$bin" train \
  --data "$tmp/test.h5" --attack none --steps -5 --limit 64 --epochs 1
expect 78 "evaluation attack (--eval-steps, --eval-alpha, --eval-restarts): step size must be > 0, found nan" -- \
  "$bin" train --data "$tmp/test.h5" --eval-alpha nan "${small[@]}"
expect 78 "evaluation attack (--eval-steps, --eval-alpha, --eval-restarts): restarts must be >= 1, found 0" -- \
  "$bin" train --data "$tmp/test.h5" --eval-restarts 0 "${small[@]}"
expect 78 "--early-stop-tau must be an integer in [-1, 1000000], found -2" -- "$bin" train --data "$tmp/test.h5" \
  --early-stop-tau -2
expect 78 "--checkpoint-every must be an integer in [0, 4611686018427387903], found -1" -- "$bin" train \
  --data "$tmp/test.h5" --checkpoint-every -1
expect 78 "--timeout must be a number in (0, 2.592e+06], found -1" -- "$bin" train --data "$tmp/test.h5" --timeout -1
expect 78 "--bucket-mb must be a number in [0.000976562, 1024], found 2000" -- "$bin" train --data "$tmp/test.h5" \
  --bucket-mb 2000
expect 78 "--threads must be an integer in [0, 1024], found -1" -- "$bin" train --data "$tmp/test.h5" --threads -1
expect 78 "--budget-usd must be a positive number of US dollars, found -1" -- "$bin" train --data "$tmp/test.h5" \
  --budget-usd -1
expect 78 "--budget-gpu-hours must be a positive number of GPU-hours, found inf" -- "$bin" train --data "$tmp/test.h5" \
  --budget-gpu-hours inf
expect 78 "--budget-hours must be a positive number of hours of wall time, found -2" -- "$bin" train \
  --data "$tmp/test.h5" --budget-hours -2
expect 78 "--price-per-gpu-hour must be a positive number of US dollars, found nan" -- "$bin" train \
  --data "$tmp/test.h5" --budget-usd 1 --price-per-gpu-hour nan
expect 78 "--gpus-per-node must be a positive integer, found 0" -- "$bin" train --data "$tmp/test.h5" --budget-usd 1 \
  --price-per-node-hour 3 --gpus-per-node 0
expect 78 "--max-steps-k must be at least 1, found 0" -- "$bin" train --data "$tmp/test.h5" --max-steps-k 0
expect 78 "--probe-every must be >= 0 steps (0: no guard), found -5" -- "$bin" train --data "$tmp/test.h5" \
  --probe-every -5
expect 78 "--network-busbw-gbs must be a positive number of GB/s, found 0;" -- "$bin" train --data "$tmp/test.h5" \
  --network-busbw-gbs 0
expect 78 "--network-latency-us must be >= 0 microseconds, found inf" -- "$bin" train --data "$tmp/test.h5" \
  --network-latency-us inf

# Names (78): attacks, schedules, policies, backends, log levels.
expect 78 "attack: expected pgd, fgsm, fgsm-rs, pgd-l2 or none, found \"cw\"" -- "$bin" train --data "$tmp/test.h5" \
  --attack cw
expect 78 "lr-schedule: expected constant, step, cosine or warmup-cosine, found \"linear\"" -- "$bin" train \
  --data "$tmp/test.h5" --lr-schedule linear
expect 78 "attack-init: expected random or carry, found \"zero\"" -- "$bin" train --data "$tmp/test.h5" --attack-init zero
expect 78 "attack-bn: expected auto, eval or train, found \"batch\"" -- "$bin" train --data "$tmp/test.h5" --attack-bn batch
expect 78 "attack-precision: expected fp32 or bf16, found \"fp16\"" -- "$bin" train --data "$tmp/test.h5" --attack-precision fp16
expect 78 "--lr-scaling: expected none, linear or sqrt, found \"cubic\"" -- "$bin" train --data "$tmp/test.h5" \
  --lr-scaling cubic
expect 78 "--lr-base-batch must be at least 1 (the global batch --lr was tuned for), found 0" -- "$bin" train \
  --data "$tmp/test.h5" --lr-scaling linear --lr-base-batch 0
expect 78 "loss: expected ce, trades or mart, found \"trades-kl\"" -- "$bin" train --data "$tmp/test.h5" --loss trades-kl
expect 78 "--loss trades compares the clean and the attacked prediction: it needs an attack" -- "$bin" train \
  --data "$tmp/test.h5" --loss trades --attack none
expect 78 "--beta must be a number in [0, 1e+06], found -1" -- "$bin" train --data "$tmp/test.h5" --beta -1
expect 78 "augment: expected none, flip, crop-flip" -- "$bin" train --data "$tmp/test.h5" --augment mixup
expect 78 "augment crop-flip: expected a padding in [0, 28]" -- "$bin" train --data "$tmp/test.h5" --augment crop-flip --crop-padding 40
expect 78 "--schedule expects fixed, budgeted or adaptive, found 'greedy'" -- "$bin" train --data "$tmp/test.h5" \
  --schedule greedy
expect 78 "log-level: expected error, warn, info or debug, found \"verbose\"" -- "$bin" train --data "$tmp/test.h5" \
  --log-level verbose
expect 78 "unknown communication backend \"tcp\"; expected auto, mpi, self or nccl" -- "$bin" train \
  --data "$tmp/test.h5" --backend tcp
expect 78 "unknown communication backend \"\"" -- "$bin" eval "${ev[@]}" --backend ''
expect 78 "attack: expected pgd, fgsm, fgsm-rs, pgd-l2, apgd-ce, apgd-dlr, apgd-t, fab-t, square, autoattack, none or all, found \"cw\"" -- "$bin" eval "${ev[@]}" --attack cw
# AutoAttack's attacks evaluate; training refuses them, and --norm takes linf or l2 (for them only).
expect 78 "attack: apgd-ce is an evaluation attack (rampart eval --attack apgd-ce); training takes pgd, fgsm, fgsm-rs, pgd-l2 or none" -- \
  "$bin" train --data "$tmp/test.h5" --attack apgd-ce
expect 78 "eval --norm: expected linf or l2, found \"l1\"" -- "$bin" eval "${ev[@]}" --attack autoattack --norm l1
expect 78 "eval --norm l2: applies to the AutoAttack attacks" -- "$bin" eval "${ev[@]}" --attack pgd --norm l2
expect 78 "device: expected cpu or cuda, found \"gpu\"" -- "$bin" eval "${ev[@]}" --device gpu

# Numbers of rampart eval (78).
expect 78 "eval --attack fgsm: eps must be a number >= 0, found -1" -- "$bin" eval "${ev[@]}" --eps -1
expect 78 "eval --attack pgd: step size must be > 0, found nan" -- "$bin" eval "${ev[@]}" --alpha nan
expect 78 "eval --attack pgd: restarts must be >= 1, found 0" -- "$bin" eval "${ev[@]}" --restarts 0
expect 78 "eval --attack pgd-l2: steps must be >= 1, found -1" -- "$bin" eval "${ev[@]}" --attack pgd-l2 --steps -1
expect 78 "eval --eps, --steps, --alpha, --restarts: steps must be >= 1, found 0" -- "$bin" eval "${ev[@]}" \
  --attack fgsm --steps 0
expect 78 "eval --eps, --steps, --alpha, --restarts: eps must be a number >= 0, found nan" -- "$bin" eval "${ev[@]}" \
  --attack none --eps nan
expect 78 "--limit must be an integer in [0, 9223372036854775807], found -1" -- "$bin" eval --checkpoint "$ck" \
  --data "$tmp/test.h5" --limit -1
expect 78 "--batch must be an integer in [1, 1048576], found 2000000" -- "$bin" eval "${ev[@]}" --batch 2000000
expect 78 "--timeout must be a number in (0, 2.592e+06], found nan" -- "$bin" eval "${ev[@]}" --timeout nan
expect 78 "--threads must be an integer in [0, 1024] (0: cores / ranks), found -1" -- "$bin" eval "${ev[@]}" --threads -1

# rampart plan: its own flags and the --step-costs file (no timing here: every case fails first).
plan=(plan --data "$tmp/test.h5" --limit 256 --batch 64 --budget-usd 1 --price-per-gpu-hour 2.5)
expect 78 "--ranks must be at least 1, found 0" -- "$bin" "${plan[@]}" --step-costs "$tmp/sc-ok.json" --ranks 0
expect 78 "--batch (the global batch) must be at least --ranks: batch 64, ranks 100" -- "$bin" "${plan[@]}" \
  --step-costs "$tmp/sc-ok.json" --ranks 100
expect 78 "plan: --attack none has no attack to plan" -- "$bin" plan --data "$tmp/test.h5" --schedule fixed --attack none
expect 64 "plan: the argument ('-1') for option '--seed' is invalid" -- "$bin" "${plan[@]}" --seed -1
expect 66 "--step-costs: cannot read '$tmp/nope.json'" -- "$bin" "${plan[@]}" --step-costs "$tmp/nope.json"
expect 66 "--step-costs: cannot read '$tmp/dangling'" -- "$bin" "${plan[@]}" --step-costs "$tmp/dangling"
expect 65 "empty' is not JSON ([json.exception.parse_error.101]" -- "$bin" "${plan[@]}" --step-costs "$tmp/empty"
expect 65 "has a cost that is negative or not finite" -- "$bin" "${plan[@]}" --step-costs "$tmp/sc-neg.json"
expect 65 "or an overlap_fraction outside [0,1]" -- "$bin" "${plan[@]}" --step-costs "$tmp/sc-overlap.json"
expect 65 "local_batch or measured_world below 1" -- "$bin" "${plan[@]}" --step-costs "$tmp/sc-world0.json"
expect 65 "lacks the step costs ([json.exception.type_error.302] type must be number, but is string)" -- \
  "$bin" "${plan[@]}" --step-costs "$tmp/sc-str.json"
expect 65 "lacks the step costs ([json.exception.out_of_range.403] key 'bwd_full_s' not found)" -- \
  "$bin" "${plan[@]}" --step-costs "$tmp/sc-missing.json"
expect 65 "number overflow parsing '1e999'" -- "$bin" "${plan[@]}" --step-costs "$tmp/sc-big.json"
expect 66 "--step-costs: '$tmp' is a directory, expected a JSON file" -- "$bin" "${plan[@]}" --step-costs "$tmp"
# A binary file: the byte is described, never quoted raw into the message.
expect 65 "sc-binary' is not JSON ([json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - invalid literal; found byte 0x89 at offset 0, not text" -- \
  "$bin" "${plan[@]}" --step-costs "$tmp/sc-binary"
expect 65 "sc-dup.json': key \"fwd_s\" is given more than once in one object; expected each key once" -- \
  "$bin" "${plan[@]}" --step-costs "$tmp/sc-dup.json"
# A dataset of 0 images: refused where it is opened, naming the file (not "0 steps per epoch").
expect 65 "d-empty.h5: /images holds 0 images (shape [0, 1, 28, 28]); expected at least 1" -- \
  "$bin" train --data "$tmp/d-empty.h5" "${small[@]}"
expect 65 "d-empty.h5: /images holds 0 images" -- "$bin" eval --checkpoint "$ck" --data "$tmp/d-empty.h5"
expect 65 "d-empty.h5: /images holds 0 images" -- "$bin" plan --data "$tmp/d-empty.h5" --step-costs "$tmp/sc-ok.json" \
  --budget-usd 1 --price-per-gpu-hour 2.5
expect 65 "d-empty.h5: /images holds 0 images" -- "$bin" train --data "$tmp/test.h5" --test-data "$tmp/d-empty.h5" \
  --epochs 50
expect 66 "nope.h5: no such file (expected an HDF5 file)" -- "$bin" "${plan[@]}" --step-costs "$tmp/sc-ok.json" \
  --test-data "$tmp/nope.h5"

# Files that are directories, dangling links, empty, or of the other kind.
expect 66 "$tmp is a directory, expected an HDF5 file" -- "$bin" train --data "$tmp"
expect 66 "$tmp is a directory, expected an HDF5 file" -- "$bin" eval --checkpoint "$tmp" --data "$tmp/test.h5"
expect 66 "$tmp is a directory, expected an HDF5 file" -- "$bin" train --data "$tmp/test.h5" --test-data "$tmp" \
  --epochs 50
expect 66 "dangling: no such file (expected an HDF5 file)" -- "$bin" train --data "$tmp/dangling"
expect 66 "dangling: no such file (expected an HDF5 file)" -- "$bin" eval --checkpoint "$tmp/dangling" \
  --data "$tmp/test.h5"
expect 66 "config file $tmp/dangling does not exist" -- "$bin" eval --config "$tmp/dangling" "${ev[@]}"
expect 65 "is not a valid HDF5 file (truncated or corrupt?): no HDF5 signature found in 0 bytes" -- \
  "$bin" eval --checkpoint "$tmp/empty" --data "$tmp/test.h5"
head -c 3000 "$ck" >"$tmp/trunc-ck.h5"
expect 65 "trunc-ck.h5 is not a valid HDF5 file (truncated or corrupt?)" -- "$bin" eval --checkpoint "$tmp/trunc-ck.h5" \
  --data "$tmp/test.h5"
expect 65 "checkpoint.h5: missing dataset /images (expected a rampart dataset" -- "$bin" train --data "$ck"
expect 65 "checkpoint.h5: missing dataset /images" -- "$bin" eval --checkpoint "$ck" --data "$ck"
expect 65 "checkpoint.h5: missing dataset /images" -- "$bin" train --data "$tmp/test.h5" --test-data "$ck" --epochs 50
expect 65 "(not a rampart checkpoint; a dataset?)" -- "$bin" eval --checkpoint "$tmp/test.h5" --data "$tmp/test.h5"
expect 65 "checkpoint.h5: missing dataset /images" -- "$bin" plan --data "$ck"
expect 78 "checkpoint.h5: holds control byte 26 at offset 6; expected a text file of key = value lines" -- \
  "$bin" train --config "$ck" --data "$tmp/test.h5"
expect 74 "cannot create --out folder $tmp/test.h5: Not a directory" -- "$bin" train --data "$tmp/test.h5" \
  --out "$tmp/test.h5" "${small[@]}"

# HDF5 datasets with the right names and the wrong dtype, rank, shape or attributes (65).
expect 65 "d-f32.h5:/images: expected uint8 [N, C, H, W], found float32 [8, 1, 28, 28]" -- "$bin" train \
  --data "$tmp/d-f32.h5"
expect 65 "d-rank3.h5:/images: expected uint8 [N, C, H, W], found uint8 [8, 28, 28]" -- "$bin" train \
  --data "$tmp/d-rank3.h5"
expect 65 "d-scalar.h5:/images: expected uint8 [N, C, H, W], found uint8 scalar" -- "$bin" train --data "$tmp/d-scalar.h5"
expect 65 "d-lab2d.h5:/labels: expected uint8 [N] or int64 [N] (int64 where there are more than 256 classes), found \
uint8 [8, 1]" -- "$bin" train --data "$tmp/d-lab2d.h5"
expect 65 "d-labi8.h5:/labels: expected uint8 [N] or int64 [N] (int64 where there are more than 256 classes), found \
int8 [8]" -- "$bin" eval --checkpoint "$ck" --data "$tmp/d-labi8.h5"
expect 65 "d-labi64.h5: /labels[3] = 300: expected a label in [0, 300) (attribute 'classes' = 300)" -- "$bin" eval \
  --checkpoint "$ck" --data "$tmp/d-labi64.h5"
expect 65 "d-count.h5: /images holds 8 images but /labels holds 5 labels; expected the same N" -- "$bin" train \
  --data "$tmp/d-count.h5"
expect 65 "d-nolabels.h5: missing dataset /labels" -- "$bin" train --data "$tmp/d-nolabels.h5"
expect 65 "d-noclasses.h5: missing attribute 'classes' on /" -- "$bin" train --data "$tmp/d-noclasses.h5"
expect 65 "d-classes2m.h5: attribute 'classes': expected 1 to 1000000, found 2000000" -- "$bin" train \
  --data "$tmp/d-classes2m.h5"
expect 65 "d-classesstr.h5:/: attribute 'classes': expected an integer, found string" -- "$bin" train \
  --data "$tmp/d-classesstr.h5"
expect 65 "d-classes5.h5: /labels[5] = 5: expected a label in [0, 5) (attribute 'classes' = 5)" -- "$bin" train \
  --data "$tmp/d-classes5.h5"
expect 78 "layer 0 (conv2d): in_channels is 1 but the input has 3 channels" -- "$bin" eval --checkpoint "$ck" \
  --data "$tmp/d-3ch.h5"
expect 78 "layer 7 (linear): in_features is 3136 but the input has 576 features" -- "$bin" eval --checkpoint "$ck" \
  --data "$tmp/small.h5"

# Damaged checkpoints (65): format, version, model spec, weights.
# bad_checkpoint FILE TEXT: eval of the real test set with $tmp/FILE is 65 with TEXT.
bad_checkpoint() { expect 65 "$2" -- "$bin" eval --checkpoint "$tmp/$1" --data "$tmp/test.h5"; }
bad_checkpoint c-format.h5 "c-format.h5: expected root attribute format = \"rampart-checkpoint\", found \"pytorch\""
bad_checkpoint c-v2.h5 "c-v2.h5: expected checkpoint version 1, found 2 (written by a newer rampart?)"
bad_checkpoint c-versionstr.h5 "c-versionstr.h5:/: attribute 'version': expected an integer, found string"
bad_checkpoint c-noarch.h5 "c-noarch.h5: missing root attribute arch_json (the model spec)"
bad_checkpoint c-archbad.h5 "attribute 'arch_json': expected JSON, found text that does not parse"
bad_checkpoint c-archdup.h5 "attribute 'arch_json': element 1: key \"type\" is given more than once in one object"
bad_checkpoint c-archobj.h5 "attribute 'arch_json': expected a JSON array of layers, found object"
bad_checkpoint c-nomodel.h5 "c-nomodel.h5: missing group /model (the weights)"
bad_checkpoint c-noweight.h5 "missing /model/0.weight [32, 1, 3, 3]; the checkpoint does not belong to this model"
bad_checkpoint c-shape.h5 "/model/0.weight has shape [16, 1, 3, 3], expected [32, 1, 3, 3]"
bad_checkpoint c-flat.h5 "/model/0.weight has shape [32, 9], expected [32, 1, 3, 3]"
bad_checkpoint c-extra.h5 "/model/5.weight [4, 4] belongs to no layer of the model"
bad_checkpoint c-f64.h5 "c-f64.h5:/model/0.weight: expected float32, found float64 [32, 1, 3, 3]"
bad_checkpoint c-inf.h5 "checkpoint: /model/9.bias holds inf at index 3"

# IDX files, plain and gzip (65 bad data, 66 missing).
imp() { "$bin" data import --images "$1" --labels "$2" --out "$tmp/z.h5"; }
expect 65 "images and labels disagree: $tmp/i3 holds 3 images but $tmp/l4 holds 4 labels" -- imp "$tmp/i3" "$tmp/l4"
expect 65 "expected IDX magic 0x00000801 (uint8, 1 dim) for labels, found 0x00000803 (uint8, 3 dims); is this the images file?" -- \
  imp "$tmp/i3" "$tmp/i3"
expect 65 "i0.gz: expected at least one image, found 0" -- imp "$tmp/i0.gz" "$tmp/l0.gz"
expect 65 "expected images of at least 1x1 pixels, found 0x4" -- imp "$tmp/i-0x4.gz" "$tmp/l3"
expect 65 "header claims 4294967295 images of 4294967295x4294967295, more than 1 TiB" -- imp "$tmp/i-huge.gz" "$tmp/l3"
expect 65 "i-trail.gz (gzip): expected 48 bytes of pixels for 3 images of 4x4, found more (trailing data" -- \
  imp "$tmp/i-trail.gz" "$tmp/l3"
expect 65 "l-trail: expected 3 bytes of labels for 3 images, found more (trailing data" -- imp "$tmp/i3" "$tmp/l-trail"
expect 65 "found 0x00000d03 (float32, 3 dims)" -- imp "$tmp/i-f32.gz" "$tmp/l3"
expect 65 "found 0x00000804 (uint8, 4 dims)" -- imp "$tmp/i-4d.gz" "$tmp/l3"
expect 65 "i-hdr.gz (gzip): expected a 16-byte IDX header for images, found 8 bytes (truncated?)" -- \
  imp "$tmp/i-hdr.gz" "$tmp/l3"
expect 65 "empty: expected a 8-byte IDX header for labels, found 0 bytes (truncated?)" -- imp "$tmp/i3" "$tmp/empty"
expect 65 "i3.gz (gzip): the gzip stream ends before its CRC-32 and length trailer" -- imp "$tmp/i3.gz" "$tmp/l3"
expect 65 "test.h5: expected IDX magic 0x00000803 (uint8, 3 dims) for images, found 0x89484446 (not an IDX file)" -- \
  imp "$tmp/test.h5" "$tmp/l3"
expect 66 "dangling: no such file (expected IDX labels" -- imp "$tmp/i3" "$tmp/dangling"
expect 66 "$tmp is a directory, expected an IDX images file" -- imp "$tmp" "$tmp/l3"
expect 66 "$tmp is a directory, expected an IDX labels file" -- imp "$tmp/i3" "$tmp"
expect 74 "cannot create $tmp/no-dir/z.h5.tmp." -- "$bin" data import --images "$tmp/i3" --labels "$tmp/l3" \
  --out "$tmp/no-dir/z.h5"
expect 74 "cannot write $tmp/run: expected a regular file (or no file) to replace, found a directory" -- \
  "$bin" data import --images "$tmp/i3" --labels "$tmp/l3" --out "$tmp/run"
# An --out that is a FIFO (or a device) is refused, never replaced by a regular file.
mkfifo "$tmp/fifo"
expect 74 "cannot write $tmp/fifo: expected a regular file (or no file) to replace, found a FIFO" -- \
  "$bin" data import --images "$tmp/i3" --labels "$tmp/l3" --out "$tmp/fifo"

# Config files (78): keys, values, duplicates, sections, and keys that are not settings.
cfg() { conf=$tmp/c$((cases + 1)).ini; printf "$1" >"$conf"; }   # one file per case: they run side by side
cfg 'epochs = 1\nepochs = 2\n'
expect 78 ".ini: key 'epochs' is given more than once" -- "$bin" train --config "$conf" --data "$tmp/test.h5" \
  "${small[@]}"
cfg 'help = true\n'
expect 78 ".ini: key 'help' is a command-line flag only, not a setting" -- "$bin" train --config "$conf" \
  --data "$tmp/test.h5" "${small[@]}"
cfg 'config = other.ini\n'
expect 78 ".ini: key 'config' is a command-line flag only" -- "$bin" eval --config "$conf" "${ev[@]}"
cfg 'seed = -1\n'
expect 78 ".ini: the argument ('-1') for option 'seed' is invalid: expected a seed" -- "$bin" train \
  --config "$conf" --data "$tmp/test.h5" "${small[@]}"
cfg '[train]\nepochs = 1\n'
expect 78 ".ini: unrecognised option 'train.epochs'" -- "$bin" train --config "$conf" --data "$tmp/test.h5"
cfg 'epochs\n'
expect 78 ".ini: the options configuration file contains an invalid line 'epochs'" -- "$bin" train \
  --config "$conf" --data "$tmp/test.h5"
cfg 'batch = 0x10\n'
expect 78 ".ini: the argument ('0x10') for option 'batch' is invalid" -- "$bin" train --config "$conf" \
  --data "$tmp/test.h5"
cfg 'resume = maybe\n'
expect 78 ".ini: the argument ('maybe') for option 'resume' is invalid. Valid choices" -- "$bin" train \
  --config "$conf" --data "$tmp/test.h5"
cfg 'momentum = 1.5\n'
expect 78 "--momentum must be a number in [0, 1), found 1.5" -- "$bin" train --config "$conf" --data "$tmp/test.h5"
cfg 'epochs = 1\n'
expect 78 ".ini: unrecognised option 'epochs' (keys are the flag names of rampart eval --help" -- "$bin" eval \
  --config "$conf" "${ev[@]}"
cfg 'ranks = 4\n'
expect 78 ".ini: unrecognised option 'ranks' (keys are the flag names of rampart train --help" -- "$bin" train \
  --config "$conf" --data "$tmp/test.h5"
cfg 'batch = %%value%%\n'
expect 78 ".ini: holds '%value%', which the option parser cannot handle" -- "$bin" train --config "$conf" \
  --data "$tmp/test.h5"
cfg 'resume = true\n'
expect 64 "--resume continues from <out>/checkpoint.h5 and needs --out" -- "$bin" train --config "$conf" \
  --data "$tmp/test.h5" "${small[@]}"
cfg 'model = [{"type": "relu"}]\n'
expect 78 "model spec: the last layer must produce logits [N, classes], found shape [1, 1, 28, 28]" -- "$bin" train \
  --config "$conf" --data "$tmp/test.h5" "${small[@]}"

# Model specs (--model JSON): syntax, types, zero sizes, shapes that do not chain (78).
model() { "$bin" train --data "$tmp/test.h5" "${small[@]}" --model "$1"; }
fl='{"type": "flatten"}'
expect 78 "model spec: expected a non-empty JSON list of layers, found an empty list" -- model '[]'
expect 78 "layer 0: expected a JSON object such as {\"type\": \"relu\"}, found 1" -- model '[1]'
expect 78 "layer 0: missing field \"type\"" -- model '[{}]'
expect 78 "layer 0: \"type\" must be a string" -- model '[{"type": 7}]'
expect 78 "model spec: layer 0: key \"type\" is given more than once" -- model '[{"type": "flatten", "type": "relu"}]'
expect 78 "model spec: layer 1: key \"out_features\" is given more than once" -- \
  model "[$fl, {\"type\": \"linear\", \"in_features\": 784, \"out_features\": 10, \"out_features\": 10}]"
expect 78 "the spec is not valid JSON: [json.exception.parse_error.101]" -- model "[$fl, {\"type\": \"linear\""
expect 78 "layer 0 (linear): \"out_features\" must be a positive integer, found 0" -- \
  model '[{"type": "linear", "in_features": 784, "out_features": 0}]'
expect 78 "layer 1 (linear): \"in_features\" must be a positive integer, found \"784\"" -- \
  model "[$fl, {\"type\": \"linear\", \"in_features\": \"784\", \"out_features\": 10}]"
expect 78 "layer 1 (linear): \"in_features\" must be a positive integer, found 784.5" -- \
  model "[$fl, {\"type\": \"linear\", \"in_features\": 784.5, \"out_features\": 10}]"
expect 78 "layer 1 (linear): unknown field \"colour\"; expected only in_features, out_features, bias" -- \
  model "[$fl, {\"type\": \"linear\", \"in_features\": 784, \"out_features\": 10, \"colour\": 1}]"
expect 78 "layer 1 (linear): \"bias\" must be true or false, found \"yes\"" -- \
  model "[$fl, {\"type\": \"linear\", \"in_features\": 784, \"out_features\": 10, \"bias\": \"yes\"}]"
expect 78 "layer 1 (linear): in_features is 100 but the input has 784 features" -- \
  model "[$fl, {\"type\": \"linear\", \"in_features\": 100, \"out_features\": 10}]"
expect 78 "layer 0 (linear): expected an input [N, features], found [1, 1, 28, 28] (add a flatten layer" -- \
  model '[{"type": "linear", "in_features": 784, "out_features": 10}]'
expect 78 "model: the last layer has 1 outputs but the data has 10 classes" -- \
  model "[$fl, {\"type\": \"linear\", \"in_features\": 784, \"out_features\": 1}]"
expect 78 "layer 0 (conv2d): \"kernel_size\" must be an integer >= 1 or a list [h, w]" -- \
  model '[{"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 0}]'
expect 78 "layer 0 (conv2d): \"stride\" must be an integer >= 1" -- \
  model '[{"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "stride": 0}]'
expect 78 "layer 0 (conv2d): \"padding\" must be an integer >= 0" -- \
  model '[{"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": -1}]'
expect 78 "layer 0 (conv2d): kernel 99x99 does not fit the padded input 28x28" -- \
  model '[{"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 99}]'
expect 78 "layer 0 (maxpool2d): \"kernel_size\" must be an integer >= 1" -- model '[{"type": "maxpool2d", "kernel_size": 0}]'
expect 78 "layer 0 (normalize): \"mean\" has 2 entries but the input has 1 channels" -- \
  model "[{\"type\": \"normalize\", \"mean\": [0.5, 0.5], \"std\": [0.5, 0.5]}, $fl]"
expect 78 "layer 0 (normalize): \"std\" must hold positive numbers, found [0]" -- \
  model "[{\"type\": \"normalize\", \"mean\": [0.5], \"std\": [0]}, $fl]"
expect 78 "layer 0 (batchnorm2d): num_features is 3 but the input has 1 channels" -- \
  model "[{\"type\": \"batchnorm2d\", \"num_features\": 3}, $fl]"

settle
[ -p "$tmp/fifo" ] || { echo "FAIL: data import --out $tmp/fifo replaced the FIFO"; failures=$((failures + 1)); }
report
if [ "$failures" -ne 0 ]; then echo "$failures case(s) failed"; exit 1; fi
echo "all cases passed"
