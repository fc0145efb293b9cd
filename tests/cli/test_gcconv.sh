#!/bin/sh
# Command-line checks of [gcconv] and [gcmerge] through ./darknet: every
# invalid cfg value stops parsing with status 1 and a message naming the
# file, the section, its index, the key and the value; weights files that
# are short or do not match the cfg stop loading with the file, the layer
# and the byte offset.  `darknet ops CFG` parses a cfg; `darknet partial
# CFG WEIGHTS OUT N` loads weights (none when WEIGHTS is "") and saves them.
cd "$(dirname "$0")/../.." || exit 1
dir=$(mktemp -d /tmp/gcconv-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT

check() {   # name, then a command that succeeds when the check passes
    name=$1
    shift
    if "$@"; then echo "PASS $name"; else echo "FAIL $name"; fi
}

# A cfg whose first [gcconv] (section 0) gets the extra lines $1, and whose
# second one (section 1) gets $2.  They come first: of two equal keys,
# darknet reads the first.
write_cfg() {
    cat > "$dir/net.cfg" <<CFG
[net]
batch=1
width=10
height=10
channels=3
seed=5

[gcconv]
$1
filters=4
size=3
pad=1
branches=2
batch_normalize=1
activation=leaky

[gcconv]
$2
filters=3
size=3
pad=1
branches=2
activation=leaky

[gcmerge]

[convolutional]
filters=2
size=1
activation=linear

[avgpool]
[softmax]
CFG
}

# rejects NAME SECTION-INDEX KEY VALUE LINES-FOR-SECTION-0 LINES-FOR-SECTION-1
rejects() {
    name=$1 index=$2 key=$3 value=$4
    write_cfg "$5" "$6"
    ./darknet ops "$dir/net.cfg" > "$dir/out" 2> "$dir/err"
    status=$?
    msg=$(grep 'darknet: error' "$dir/err")
    check "rejects $name" sh -c '[ "$0" -eq 1 ] && printf "%s\n" "$1" | grep -qF "$2: section $3 " && printf "%s\n" "$1" | grep -qF "$4=$5"' \
        "$status" "$msg" "$dir/net.cfg" "$index" "$key" "$value"
    [ "$status" -eq 1 ] && [ -n "$msg" ] || { echo "  status $status, stderr:"; tail -2 "$dir/err"; }
}

write_cfg "" ""
./darknet ops "$dir/net.cfg" > /dev/null 2> "$dir/err"
check "a valid cfg parses" [ $? -eq 0 ]
check "start-up rows show K, mixing, filters and shapes" \
    grep -q 'gcconv K=2 full      4  3 x 3 / 1    10 x  10 x   3   ->    10 x  10 x   8' "$dir/err"
check "gcmerge row" grep -q 'gcmerge K=2 max .* 10 x  10 x   6   ->    10 x  10 x   3' "$dir/err"

rejects "branches=0" 0 branches 0 "branches=0"
rejects "branches=-3" 1 branches -3 "" "branches=-3"
rejects "branches=two" 1 branches two "" "branches=two"
rejects "filters=0" 0 filters 0 "filters=0"
rejects "filters=1.5" 0 filters 1.5 "filters=1.5"
rejects "size=0" 1 size 0 "" "size=0"
rejects "stride=0" 0 stride 0 "stride=0"
rejects "padding=-1" 0 padding -1 "padding=-1"
rejects "pad=2" 0 pad 2 "pad=2"
rejects "unknown mixing" 1 mixing diagonal "" "mixing=diagonal"
rejects "unknown r_init" 0 r_init zeros "r_init=zeros"
rejects "unknown activation" 1 activation sigmoidish "" "activation=sigmoidish"
rejects "expand=2" 0 expand 2 "expand=2"
rejects "batch_normalize=3" 1 batch_normalize 3 "" "batch_normalize=3"
rejects "calib_rate=nan" 0 calib_rate nan "calib_rate=nan"
rejects "calib_rate=inf" 1 calib_rate inf "" "calib_rate=inf"
rejects "calib_rate=-1" 0 calib_rate -1 "calib_rate=-1"
rejects "calib_rate=fast" 0 calib_rate fast "calib_rate=fast"
# 3 input channels and K=2 without replication
rejects "input not a multiple of K" 0 branches 2 "expand=0"
# section 1 reads 8 channels; K=3 does not divide them
rejects "K not dividing the channels" 1 branches 3 "" "branches=3"
rejects "kernel larger than the input" 1 size 13 "" "size=13
pad=0"

write_cfg "" ""
sed -i 's/^\[gcmerge\]$/[gcmerge]\nmode=median/' "$dir/net.cfg"
./darknet ops "$dir/net.cfg" > /dev/null 2> "$dir/err"
check "rejects gcmerge mode=median" sh -c '[ $0 -eq 1 ] && grep -q "section 2 \[gcmerge\]: mode=median" "$1"' $? "$dir/err"

write_cfg "" ""
sed -i 's/^\[gcmerge\]$/[gcmerge]\nbranches=4/' "$dir/net.cfg"
./darknet ops "$dir/net.cfg" > /dev/null 2> "$dir/err"
check "rejects gcmerge branches not dividing the channels" \
    sh -c '[ $0 -eq 1 ] && grep -q "section 2 \[gcmerge\]: branches=4" "$1"' $? "$dir/err"

# ---- weights files -------------------------------------------------------
write_cfg "" ""
cp "$dir/net.cfg" "$dir/a.cfg"
./darknet partial "$dir/a.cfg" "" "$dir/a.weights" 100 > /dev/null 2>&1
./darknet partial "$dir/a.cfg" "" "$dir/b.weights" 100 > /dev/null 2>&1
check "seed= makes the initial weights reproducible" cmp -s "$dir/a.weights" "$dir/b.weights"

./darknet partial "$dir/a.cfg" "$dir/a.weights" "$dir/c.weights" 100 > /dev/null 2>&1
check "load then save gives the same bytes" cmp -s "$dir/a.weights" "$dir/c.weights"

# layer 0 (from byte 20): biases 8, BN 3*8, w 4*3*2*3*3=216, R 2*9=18 -> 266 floats after a 20-byte header;
# layer 1 (from byte 1084): biases 6, w 3*4*2*3*3=216, R 18; layer 3: [convolutional] 2 + 2*3
size=$(wc -c < "$dir/a.weights")
check "file size is header + every array" [ "$size" -eq $((20 + 4 * (266 + 240 + 8))) ]

head -c 1500 "$dir/a.weights" > "$dir/short.weights"
./darknet partial "$dir/a.cfg" "$dir/short.weights" "$dir/d.weights" 100 > /dev/null 2> "$dir/err"
status=$?
check "a short file stops with status 1" [ "$status" -eq 1 ]
check "the message names the file, the layer and the byte offset" \
    grep -q "short.weights: layer 1 \[gcconv\]: w needs 216 floats from byte 1108, but the file ends at byte 1500" "$dir/err"

# A file saved for another cfg: section 0 without batch norm shifts every array.
write_cfg "" ""
sed -i '0,/batch_normalize=1/s//batch_normalize=0/' "$dir/net.cfg"
./darknet partial "$dir/net.cfg" "$dir/a.weights" "$dir/e.weights" 100 > /dev/null 2> "$dir/err"
status=$?
check "a file for another cfg stops with status 1" [ "$status" -eq 1 ]
check "the mismatch message names the file, the layer and the byte offset" \
    grep -q "a.weights: layer 0 \[gcconv\]: R read from byte [0-9]* is not a calibration map" "$dir/err"

head -c 22 "$dir/a.weights" > "$dir/tiny.weights"
./darknet partial "$dir/a.cfg" "$dir/tiny.weights" "$dir/f.weights" 100 > /dev/null 2> "$dir/err"
check "a file ending inside the first layer stops too" \
    sh -c '[ $0 -eq 1 ] && grep -q "layer 0 \[gcconv\]: biases needs 8 floats from byte 20" "$1"' $? "$dir/err"

./darknet ops cfg/gcconv-example.cfg > /dev/null 2> "$dir/err"
check "cfg/gcconv-example.cfg parses" \
    sh -c '[ $0 -eq 0 ] && grep -q "gcmerge K=4 max .*8 x   8 x 256   ->     8 x   8 x  64" "$1"' $? "$dir/err"

# ---- expand= by default: the first [gcconv], wherever it stands ---------------
# Upstream's vgg-16.cfg and strided.cfg start with [crop]; with their
# convolutions made [gcconv] (K=2), the first one replicates the 3-channel image.
for c in vgg-16 strided; do
    sed 's/^\[convolutional\]/[gcconv]\nbranches=2/; s/^batch=128/batch=1/; s/^subdivisions=4/subdivisions=1/' \
        "build/darknet/cfg/$c.cfg" > "$dir/$c-gc.cfg"
    ./darknet ops "$dir/$c-gc.cfg" > /dev/null 2> "$dir/$c.err"
    check "$c.cfg with [gcconv] parses" [ $? -eq 0 ]
done
check "vgg-16: the first [gcconv] (section 1) expands the 3 channels" \
    grep -q '^ *1 gcconv K=2 full     64  3 x 3 / 1   224 x 224 x   3   ->   224 x 224 x 128' "$dir/vgg-16.err"
check "strided: so does its first [gcconv]" \
    grep -q '^ *1 gcconv K=2 full     64  7 x 7 / 2   224 x 224 x   3   ->   112 x 112 x 128' "$dir/strided.err"

crop_cfg() {   # crop_cfg BRANCHES EXTRA-LINE: [crop], then a [gcconv]
    printf '[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\nseed=1\n[crop]\ncrop_width=6\ncrop_height=6\n' > "$dir/crop.cfg"
    printf '[gcconv]\n%s\nbranches=%s\nfilters=2\nsize=3\npad=1\n[avgpool]\n[softmax]\n' "$2" "$1" >> "$dir/crop.cfg"
}
crop_cfg 2 "expand=0"
./darknet ops "$dir/crop.cfg" > /dev/null 2> "$dir/err"
check "an explicit expand=0 is kept" \
    sh -c '[ $0 -eq 1 ] && grep -q "section 1 \[gcconv\]: branches=2: the input has 3 channels" "$1"' $? "$dir/err"
# K=3 divides 3 channels: no replication, C=1: biases 6, w 2*1*3*9, R 27
crop_cfg 3 ""
./darknet partial "$dir/crop.cfg" "" "$dir/crop.weights" 10 > /dev/null 2>&1
check "a first [gcconv] whose K divides the channels does not expand" \
    [ "$(wc -c < "$dir/crop.weights")" -eq $((20 + 4 * (6 + 54 + 27))) ]
crop_cfg 2 ""
./darknet partial "$dir/crop.cfg" "" "$dir/crop.weights" 10 > /dev/null 2>&1
# K=2 on 3 channels expands, C=3: biases 4, w 2*3*2*9, R 18
check "a first [gcconv] after [crop] expands when K does not divide the channels" \
    [ "$(wc -c < "$dir/crop.weights")" -eq $((20 + 4 * (4 + 108 + 18))) ]
