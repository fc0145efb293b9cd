#!/bin/sh
# Real training runs through ./darknet classifier train on a tiny generated
# set of PNGs:
# - the same seed gives byte-identical weights (data-loader threads,
#   augmentation, dropout and csgd noise included); another seed does not;
# - 2N iterations in one run equal N iterations, a stop, and N more resumed
#   from the saved weights and state file (sgd, csgd and adam);
# - resuming without the state file says so on stderr.
cd "$(dirname "$0")/../.." || exit 1
DN=$PWD/darknet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

# 64 images of 16x16: label lab_0 has a bright horizontal bar, lab_1 a
# vertical one, both over seeded noise.  Label names contain '_', which
# mktemp's names never do, so a path holds exactly one label.
python3 - "$work/img" <<'PY' || { fail csgd_train_dataset; exit 0; }
import os, random, struct, sys, zlib
out = sys.argv[1]
os.makedirs(out)
def png(path, w, h, rows):
    raw = b''.join(b'\0' + bytes(r) for r in rows)
    def chunk(kind, data):
        c = kind + data
        return struct.pack('>I', len(data)) + c + struct.pack('>I', zlib.crc32(c) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
rnd = random.Random(5)
for i in range(64):
    label = i % 2
    rows = []
    for y in range(16):
        row = []
        for x in range(16):
            bar = (y in (7, 8)) if label == 0 else (x in (7, 8))
            v = 220 if bar else rnd.randrange(0, 90)
            row += [v, (v * 3) % 256, 255 - v]
        rows.append(row)
    png('%s/lab_%d_%02d.png' % (out, label, i), 16, 16, rows)
PY
ls "$work"/img/*.png > "$work/train.list"
printf 'lab_0\nlab_1\n' > "$work/labels.txt"

# $1 optimizer line(s), $2 seed line, $3 max_batches.  The learning-rate
# policy does not read max_batches, so a run stopped at 10 of 20 follows the
# same schedule.
write_cfg() {
    cat <<CFG
[net]
batch=8
subdivisions=1
height=16
width=16
channels=3
learning_rate=$4
momentum=0.9
decay=0.0005
max_batches=$3
policy=steps
steps=6,15
scales=.5,.5
$1
$2
angle=7
aspect=.75
hue=.1
saturation=.75
exposure=.75

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=8
size=3
stride=1
pad=1
activation=leaky

[dropout]
probability=.2

[connected]
output=2
activation=linear

[softmax]
groups=1
CFG
}

# $1 run name, $2 optimizer line(s), $3 seed line, $4 max_batches, $5 weights to resume from
train() {
    dir="$work/$1"
    mkdir -p "$dir"
    write_cfg "$2" "$3" "$4" "${LR:-0.05}" > "$dir/net.cfg"
    printf 'classes=2\ntrain=%s\nlabels=%s\nbackup=%s\n' \
        "$work/train.list" "$work/labels.txt" "$dir" > "$dir/data.cfg"
    "$DN" classifier train "$dir/data.cfg" "$dir/net.cfg" $5 > "$dir/log" 2>&1
}

same() { cmp -s "$1" "$2"; }

CSGD='optimizer=csgd
sigma=0.001'
train a1 "$CSGD" seed=7 20
train a2 "$CSGD" seed=7 20
train b1 "$CSGD" seed=8 20
check csgd_train_runs '[ -s "$work/a1/net.weights" ] && [ -s "$work/a2/net.weights" ] && [ -s "$work/b1/net.weights" ]'
check csgd_train_same_seed_identical_weights 'same "$work/a1/net.weights" "$work/a2/net.weights"'
check csgd_train_other_seed_other_weights '! same "$work/a1/net.weights" "$work/b1/net.weights"'
check csgd_train_state_file_written '[ -s "$work/a1/net.weights.state" ] && ! ls "$work"/a1/*.state.* >/dev/null 2>&1'

# $1 name, $2 optimizer line(s): 20 in one go versus 10 + 10 resumed
resume_case() {
    train "$1_full" "$2" seed=3 20
    train "$1_half" "$2" seed=3 10
    cp "$work/$1_half/net.weights" "$work/$1_half/start.weights"
    cp "$work/$1_half/net.weights.state" "$work/$1_half/start.weights.state"
    train "$1_half" "$2" seed=3 20 "$work/$1_half/start.weights"
    case_name=$1
    check "resume_$1_equals_one_run" 'same "$work/${case_name}_full/net.weights" "$work/${case_name}_half/net.weights"'
}
resume_case sgd 'optimizer=sgd'
resume_case csgd "$CSGD"
resume_case csgd_gradient "$CSGD
noise=gradient
sigma=0.01"
LR=0.005
resume_case adam optimizer=adam
LR=

# Without the state file the run goes on as upstream does, and says so.
train c_half "$CSGD" seed=3 10
cp "$work/c_half/net.weights" "$work/c_half/start.weights"
train c_half "$CSGD" seed=3 20 "$work/c_half/start.weights"
check resume_without_state_says_so 'grep -q "start afresh" "$work/c_half/log"'
check resume_without_state_differs '! same "$work/csgd_full/net.weights" "$work/c_half/net.weights"'
