#!/bin/sh
# Paths and files that upstream mishandled: a path longer than upstream's
# 4096-byte buffers is an error naming it (it overran them), a weights file
# written to /dev/null gets no /dev/null.state, and tree= or map= naming a
# device or a pipe is an error instead of a hang.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
CFG=tests/data/tiny-classifier.cfg

# ---- a 5000-byte image path in a detection list (detector recall reads
# data/coco_val_5k.list and finds each label file with find_replace)
long=$(printf '%05000d' 0 | tr 0 a)
build/tests/init_weights tests/data/tiny-det.cfg "$WORK/det.weights" 0 -10 > /dev/null 2>&1
[ -e bad.list ] || trap 'rm -f bad.list' EXIT    # upstream notes unreadable images there
if [ ! -e data/coco_val_5k.list ]; then
    echo "/tmp/$long/JPEGImages/x.jpg" > data/coco_val_5k.list
    expect_error long_path "a path of 5022 bytes (at most 4095)" \
        ./darknet detector recall cfg/coco.data tests/data/tiny-det.cfg "$WORK/det.weights"
    rm -f data/coco_val_5k.list
else
    fail long_path "data/coco_val_5k.list exists: not replaced by the test"
fi

# ---- weights to /dev/null: written, and no state file beside it
build/tests/init_weights "$CFG" "$WORK/w.weights" > /dev/null 2>&1
rm -f /dev/null.state
check partial_to_dev_null ./darknet partial "$CFG" "$WORK/w.weights" /dev/null 1000
[ ! -e /dev/null.state ] && [ -c /dev/null ] && pass no_dev_null_state || fail no_dev_null_state "$(ls -l /dev/null.state)"
rm -f /dev/null.state

# ---- tree= and map= naming a device, a pipe, a folder, a missing file
shapes_dataset
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$WORK/base.data"
mkfifo "$WORK/fifo"
n=0
for target in /dev/zero "$WORK/fifo" "$WORK" "$WORK/none"; do
    n=$((n + 1))
    printf 'tree=%s\n' "$target" | cat "$WORK/base.data" - > "$WORK/tree$n.data"
    what="not a regular file"
    [ "$target" = "$WORK/none" ] && what="couldn't open file: $target (tree=)"
    expect_error "tree_$n" "$what" timeout 20 ./darknet classifier train "$WORK/tree$n.data" "$CFG" -dont_show
done
voc_shapes
convert_to "$WORK/voc"
printf 'map=/dev/zero\n' | cat "$WORK/voc/voc.data" - > "$WORK/map.data"
mkdir -p results
expect_error map_device "/dev/zero (map=): not a regular file" \
    timeout 20 ./darknet detector valid "$WORK/map.data" tests/data/tiny-det.cfg "$WORK/det.weights"
