#!/bin/sh
# pad_crop= in [net] (src/classify/augment.c): classifier train pads each
# image and crops it at a random offset.  Seeded runs stay byte for byte
# reproducible whatever the thread count, the option changes what is
# trained on, and a bad value is an error.  (The windows themselves are
# checked pixel by pixel in tests/unit/test_augment.c.)
. "$(dirname "$0")/lib.sh"
shapes_dataset
CFG=tests/data/tiny-classifier.cfg

train() {   # name pad threads
    d=$WORK/$1
    mkdir -p "$d"
    sed "s/^max_batches=.*/max_batches=3/; s/^\[net\]/[net]\nseed=7\npad_crop=$2/" "$CFG" > "$d/net.cfg"
    sed "s#backup=.*#backup=$d#" "$SHAPES/shapes.data" > "$d/net.data"
    ./darknet classifier train "$d/net.data" "$d/net.cfg" -threads "$3" -dont_show > "$d/log" 2>&1
}
train pad4_t1 4 1
train pad4_t2 4 2
train pad4_again 4 2
train pad0 0 2
w=net.weights
[ -s "$WORK/pad4_t1/$w" ] && cmp -s "$WORK/pad4_t1/$w" "$WORK/pad4_t2/$w" \
    && pass pad_crop_same_bits_1_and_2_threads || fail pad_crop_same_bits_1_and_2_threads "$(tail -2 "$WORK/pad4_t2/log")"
cmp -s "$WORK/pad4_t2/$w" "$WORK/pad4_again/$w" && pass pad_crop_seeded_repeatable || fail pad_crop_seeded_repeatable
[ -s "$WORK/pad0/$w" ] && ! cmp -s "$WORK/pad0/$w" "$WORK/pad4_t1/$w" \
    && pass pad_crop_changes_training || fail pad_crop_changes_training "same weights with pad_crop=0 and 4"
grep -q "Unused field" "$WORK/pad4_t1/log" && fail pad_crop_key_read "$(grep 'Unused field' "$WORK/pad4_t1/log")" \
    || pass pad_crop_key_read
sed 's/^\[net\]/[net]\npad_crop=-1/' "$CFG" > "$WORK/bad.cfg"
expect_error pad_crop_negative "pad_crop=-1: must be at least 0" ./darknet netcheck "$WORK/bad.cfg"
