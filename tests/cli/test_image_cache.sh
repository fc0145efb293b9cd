#!/bin/sh
# The decoded-image cache of classifier training (src/input/image_cache.c):
# a seeded run gives the same weights, bit for bit, with the cache on and
# with it off (DARKNET_IMAGE_CACHE_MB=0), also with fewer loader threads
# (DARKNET_LOADER_THREADS); a bad image in the list is still skipped with
# one warning; the budget is reported and a bad budget is refused.
. "$(dirname "$0")/lib.sh"
shapes_dataset
D=$WORK
DN=$ROOT/darknet
cd "$D" || exit 1
good=$(head -1 "$SHAPES/train.list")
garbled_png "$good" "$D/garbled_vbars.png"   # the loader's decoder refuses it
{ head -24 "$SHAPES/train.list"; echo "$D/garbled_vbars.png"; } > "$D/train.list"
sed "s#backup=.*#backup=$D/out#; s#^train=.*#train=$D/train.list#" "$SHAPES/shapes.data" > "$D/c.data"
# random crops and flips, so that every draw of an image is augmented anew
sed 's/^max_batches=.*/max_batches=6/; s/^batch=32/batch=32\nseed=7\npad_crop=4/' \
    "$ROOT/tests/data/tiny-classifier.cfg" > "$D/tiny.cfg"
mkdir -p "$D/out"

train() {   # train NAME [VAR=value...]: weights in $D/NAME.weights, output in $D/NAME.out
    name=$1; shift
    env "$@" "$DN" classifier train "$D/c.data" "$D/tiny.cfg" > "$D/$name.out" 2>&1 \
        && mv "$D/out/tiny.weights" "$D/$name.weights" && pass "$name" || fail "$name" "$(tail -3 "$D/$name.out")"
}
train train_cached DARKNET_IMAGE_CACHE_MB=64
train train_uncached DARKNET_IMAGE_CACHE_MB=0
train train_default_budget
train train_one_loader_thread DARKNET_LOADER_THREADS=1
train train_uncached_32_threads DARKNET_IMAGE_CACHE_MB=0 DARKNET_LOADER_THREADS=0

same() {   # same NAME A B: the two weights files are byte for byte equal
    [ -s "$D/$2.weights" ] && cmp -s "$D/$2.weights" "$D/$3.weights" && pass "$1" || fail "$1" "$2 and $3 differ"
}
same cache_same_weights train_cached train_uncached
same default_budget_same_weights train_default_budget train_uncached
same loader_threads_same_weights train_one_loader_thread train_uncached
same unlimited_loader_threads_same_weights train_uncached_32_threads train_uncached

# 24 good images drawn 192 times: every one decoded and kept, the bad one never
grep -q "^image cache: 24 of 25 images kept (0.1 MB of a 64 MB budget)$" "$D/train_cached.out" \
    && pass cache_reports_kept || fail cache_reports_kept "$(grep 'image cache' "$D/train_cached.out")"
grep -q "^image cache: .* of a 1024 MB budget" "$D/train_default_budget.out" \
    && pass cache_default_budget || fail cache_default_budget "$(grep 'image cache' "$D/train_default_budget.out")"
! grep -q "^image cache" "$D/train_uncached.out" && pass cache_off_silent || fail cache_off_silent
for n in train_cached train_uncached; do
    c=$(grep -c "^warning: $D/garbled_vbars.png: corrupt image (the decoder could not read it), image skipped" "$D/$n.out")
    [ "$c" -eq 1 ] && pass "${n}_warns_bad_once" || fail "${n}_warns_bad_once" "$c warnings"
    grep -q "image issues (each image skipped with a warning): 1 image the decoder refused" "$D/$n.out" \
        && pass "${n}_bad_summary" || fail "${n}_bad_summary"
done

expect_error bad_budget "DARKNET_IMAGE_CACHE_MB=lots: expected a number of megabytes >= 0" \
    env DARKNET_IMAGE_CACHE_MB=lots "$DN" classifier train "$D/c.data" "$D/tiny.cfg"
expect_error bad_loader_threads "DARKNET_LOADER_THREADS=-2: expected a number of threads >= 0" \
    env DARKNET_LOADER_THREADS=-2 "$DN" classifier train "$D/c.data" "$D/tiny.cfg"

# the command's last line: the loader threads' CPU time and their limit
# (7 batches of 32 parts: the 6 trained and the one loaded ahead)
grep -q "^loader threads: [0-9.]* CPU seconds for 224 parts of batches, at most 1 at once$" \
    "$D/train_one_loader_thread.out" && pass loader_line_limit || fail loader_line_limit
grep -q "^loader threads: .*, no limit at once$" "$D/train_uncached_32_threads.out" \
    && pass loader_line_no_limit || fail loader_line_no_limit
cores=$(getconf _NPROCESSORS_ONLN)
grep -q "^loader threads: .*, at most $cores at once$" "$D/train_cached.out" \
    && pass loader_default_one_per_core || fail loader_default_one_per_core
