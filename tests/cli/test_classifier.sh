#!/bin/sh
# Integration: train a small classifier on the generated dataset, save,
# reload, then predict and validate through upstream's commands.
. "$(dirname "$0")/lib.sh"
shapes_dataset
CFG=tests/data/tiny-classifier.cfg
DATA=$WORK/shapes.data
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$DATA"

check train ./darknet classifier train "$DATA" "$CFG"
W=$WORK/tiny-classifier.weights
if [ -s "$W" ]; then pass weights_written; else fail weights_written; fi

# The running average loss must fall over 20 iterations.
awk -F'[:,]' '/^ *[0-9]+, [0-9.]+: / { avg = $4 + 0; if (!first) first = avg } END {
    if (first > 0 && avg < first) exit 0; exit 1 }' "$WORK/train.out" \
    && pass loss_falls || fail loss_falls "$(grep -E '^ *(1|20), ' "$WORK/train.out")"

IMG=$(head -1 "$SHAPES/valid.list")
check predict ./darknet classifier predict "$DATA" "$CFG" "$W" "$IMG"
# top=2 in the .data file: two lines "percent%: class"
n=$(grep -cE '^ *[0-9]+\.[0-9]{2}%: (hbars|vbars|disc|cross)$' "$WORK/predict.out")
[ "$n" -eq 2 ] && pass predict_prints_top2 || fail predict_prints_top2 "found $n lines"

check valid ./darknet classifier valid "$DATA" "$CFG" "$W"
last=$(grep -E '^99: top 1: ' "$WORK/valid.out")
[ -n "$last" ] && pass valid_covers_all_images || fail valid_covers_all_images "$(tail -1 "$WORK/valid.out")"

# Resume from the saved weights: training continues at the saved iteration.
sed 's/^max_batches=.*/max_batches=25/' "$CFG" > "$WORK/more.cfg"
cp "$W" "$WORK/start.weights"
check resume ./darknet classifier train "$DATA" "$WORK/more.cfg" "$WORK/start.weights"
grep -qE '^ *21, ' "$WORK/resume.out" && ! grep -qE '^ *1, ' "$WORK/resume.out" \
    && pass resume_continues_count || fail resume_continues_count
