#!/bin/sh
# Classification images that cannot be read (src/input/image_check.c) are
# skipped with a warning naming the file, counted and summarised by
# `classifier train`, `valid` and `predict`; a list with no readable image
# is an error.  Upstream turned them into blank images.
. "$(dirname "$0")/lib.sh"
shapes_dataset
D=$WORK
# OpenCV's loader appends what it cannot read to ./bad.list: run from $WORK
cd "$D" || exit 1
DN=$ROOT/darknet
good=$(head -1 "$SHAPES/train.list")
mkdir -p "$D/img"
head -c 300 "$good" > "$D/img/cut_disc.png"                          # ends inside its data
printf 'not an image\n' > "$D/img/text_cross.png"                    # a text file named .png
garbled_png "$good" "$D/img/garbled_vbars.png"                      # whole, its data garbage
bad="$D/img/cut_disc.png $D/img/text_cross.png $D/img/missing_hbars.png $D/img/garbled_vbars.png"

cfg=$D/tiny.cfg
sed 's/^max_batches=.*/max_batches=6/; s/^batch=32/batch=32\nseed=7/' "$ROOT/tests/data/tiny-classifier.cfg" > "$cfg"
data() {   # data NAME TRAIN-LIST VALID-LIST
    mkdir -p "$D/$1"
    sed "s#backup=.*#backup=$D/$1#; s#^train=.*#train=$2#; s#^valid=.*#valid=$3#" "$SHAPES/shapes.data" > "$D/$1.data"
}
{ head -40 "$SHAPES/train.list"; for f in $bad; do echo "$f"; done; } > "$D/train.list"
{ head -20 "$SHAPES/valid.list"; for f in $bad; do echo "$f"; done; } > "$D/valid.list"
printf '%s\n%s\n%s\n' "$D/img/cut_disc.png" "$D/img/text_cross.png" "$D/img/missing_hbars.png" > "$D/none.list"
echo "$D/img/garbled_vbars.png" > "$D/garbled_only.list"
data mixed "$D/train.list" "$D/valid.list"
data none "$D/none.list" "$D/none.list"
data garbled_only "$D/garbled_only.list" "$D/garbled_only.list"

warned() {   # warned NAME LOG: every bad file named once in a warning
    missing=""
    for f in $bad; do
        [ "$(grep -c "^warning: $f: .*image skipped" "$2")" -eq 1 ] || missing="$missing $(basename "$f")"
    done
    [ -z "$missing" ] && pass "$1" || fail "$1" "not warned once:$missing"
}

# ---- train: the list is checked once at the start --------------------------------
check train_with_bad_images "$DN" classifier train "$D/mixed.data" "$cfg" -valid_every 1
L=$D/train_with_bad_images.out
warned train_warns_each_file "$L"
grep -qF "$D/train.list: 41 of 44 images usable, 3 skipped" "$L" && pass train_counts_usable || fail train_counts_usable
grep -qF "$D/valid.list: 21 of 24 images usable, 3 skipped" "$L" && pass train_counts_valid || fail train_counts_valid
grep -qF "image issues (each image skipped with a warning): 1 unreadable file, 1 not an image, 1 image cut short" "$L" \
    && pass train_summary || fail train_summary "$(grep 'image issues' "$L" | head -1)"
# the garbled PNG passes the first checks and is skipped when it is read
grep -q "^valid: iteration 6, .* 20 images" "$L" && pass train_validates_usable || fail train_validates_usable
[ -s "$D/mixed/tiny.weights" ] && pass train_finishes || fail train_finishes
# a seeded run with bad images is reproducible
mv "$D/mixed/tiny.weights" "$D/first.weights"
"$DN" classifier train "$D/mixed.data" "$cfg" > "$D/again.out" 2>&1
cmp -s "$D/first.weights" "$D/mixed/tiny.weights" && pass train_reproducible || fail train_reproducible
W=$D/first.weights

# The checks at the start let a whole PNG with garbled data through: the
# loader's decoder refuses it, and the loader draws another image instead.
sed "s#^train=.*#train=$D/garbled.list#" "$D/mixed.data" > "$D/garbled.data"
{ head -8 "$SHAPES/train.list"; echo "$D/img/garbled_vbars.png"; } > "$D/garbled.list"
check train_replaces_undecodable "$DN" classifier train "$D/garbled.data" "$cfg"
grep -q "^warning: $D/img/garbled_vbars.png: corrupt image (the decoder could not read it), image skipped" \
    "$D/train_replaces_undecodable.out" && pass loader_warns_undecodable || fail loader_warns_undecodable
grep -q "image issues (each image skipped with a warning): 1 image the decoder refused" \
    "$D/train_replaces_undecodable.out" && pass loader_summary || fail loader_summary

# ---- valid: bad images skipped while evaluating -------------------------------------
check valid_with_bad_images "$DN" classifier valid "$D/mixed.data" "$cfg" "$W" -json "$D/valid.json"
L=$D/valid_with_bad_images.out
warned valid_warns_each_file "$L"
grep -q "^summary: 20 images, top 1: " "$L" && pass valid_scores_readable_only || fail valid_scores_readable_only "$(grep summary "$L")"
grep -qF "skipped: 4 images that could not be read" "$L" && pass valid_counts_skipped || fail valid_counts_skipped
grep -qF "image issues (each image skipped with a warning): 1 unreadable file, 1 not an image, 1 image cut short, 1 image the decoder refused" "$L" \
    && pass valid_summary || fail valid_summary "$(grep 'image issues' "$L")"
grep -q '"skipped": 4,' "$D/valid.json" && grep -q '"images": 20,' "$D/valid.json" \
    && pass valid_json_counts || fail valid_json_counts
grep -q "^19: top 1: " "$L" && ! grep -q "^2[0-9]: top 1: " "$L" && pass valid_lines_for_readable_only \
    || fail valid_lines_for_readable_only

# ---- predict ------------------------------------------------------------------------
expect_error predict_unreadable "no readable image to predict (1 given)" \
    "$DN" classifier predict "$D/mixed.data" "$cfg" "$W" "$D/img/text_cross.png"
grep -q "^warning: $D/img/text_cross.png: not an image" "$D/predict_unreadable.out" \
    && pass predict_warns || fail predict_warns
printf '%s\n%s\n%s\n' "$D/img/cut_disc.png" "$good" "$D/img/missing_hbars.png" > "$D/stdin.list"
"$DN" classifier predict "$D/mixed.data" "$cfg" "$W" < "$D/stdin.list" > "$D/predict_stdin.out" 2>&1
status=$?
n=$(grep -cE '[0-9]+\.[0-9]{2}%: (hbars|vbars|disc|cross)$' "$D/predict_stdin.out")
[ "$status" -eq 0 ] && [ "$n" -eq 2 ] && pass predict_stdin_skips || fail predict_stdin_skips "status $status, $n lines"
grep -qF "image issues (each image skipped with a warning): 1 unreadable file, 1 image cut short" "$D/predict_stdin.out" \
    && pass predict_summary || fail predict_summary

# ---- no readable image at all: an error ----------------------------------------------
expect_error train_no_readable "$D/none.list: no readable image (3 listed)" \
    "$DN" classifier train "$D/none.data" "$cfg"
expect_error valid_no_readable "$D/none.list: no readable image (3 listed)" \
    "$DN" classifier valid "$D/none.data" "$cfg" "$W"
# only images that pass the first checks but that the decoder refuses: each
# is decoded once (by each of the 32 loader threads at most: they may meet it
# at the same time), then the loader gives up after its draws
expect_error train_no_decodable "no readable image among 1000 drawn from the training list" \
    "$DN" classifier train "$D/garbled_only.data" "$cfg"
n=$(grep -c "Cannot load image" "$D/train_no_decodable.out")
[ "$n" -le 32 ] && pass undecodable_read_once || fail undecodable_read_once "decoded $n times"
expect_error valid_no_decodable "$D/garbled_only.list: no readable image (1 listed)" \
    "$DN" classifier valid "$D/garbled_only.data" "$cfg" "$W"
