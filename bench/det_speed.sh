#!/bin/sh
# Detection at the paper's scale: `detector train` of the two-stage cfgs at
# 800x600, batch 4, against torchvision's Faster R-CNN built the same way
# (bench/torchvision_frcnn.py), both on the same JPEG files and boxes (the
# synthetic VOC set of scripts/gen_voc_shapes.py, 3 classes), with the same
# thread count; and batch-1 inference (`detector test` against torchvision
# in eval mode).  Prints a markdown section on stdout; raw output in
# build/bench/det.
#   bench/det_speed.sh [ROUNDS] [ITER]
# Environment: DET_SPEED_THREADS (default 2), DET_SPEED_WARMUP (iterations
# left out of the timing, default 1), DET_SPEED_CFGS (default the ResNet-18
# pair; the AlexNet pair has no torchvision counterpart here).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-1}
ITER=${2:-3}
THREADS=${DET_SPEED_THREADS:-2}
WARMUP=${DET_SPEED_WARMUP:-1}
CFGS=${DET_SPEED_CFGS:-faster-rcnn-resnet18-voc faster-rcnn-resnet18-voc-gc}
OUT=build/bench/det
mkdir -p "$OUT"
/usr/bin/python3 scripts/gen_voc_shapes.py "$OUT/voc" --trainval 40 --test 8 --seed 1 > /dev/null 2>&1
/usr/bin/python3 scripts/voc_convert.py "$OUT/voc/VOCdevkit" --out "$OUT/dn" --names "$OUT/voc/names.txt" \
    --backup "$OUT/dn" > "$OUT/convert.out" 2>&1
LIST=$OUT/dn/train.txt
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
export OMP_NUM_THREADS="$THREADS" OMP_WAIT_POLICY=passive

# $1 cfg name: a 3-class copy that runs WARMUP + ITER iterations
three_classes() {
    sed "s/^classes=20/classes=3/; s/^output=101/output=16/; s/^max_batches=.*/max_batches=$((WARMUP + ITER))/; \
s/^steps=.*/steps=100000/" "cfg/$1.cfg" > "$OUT/$1.cfg"
    sed "s#^backup *=.*#backup=$OUT/$1#" "$OUT/dn/voc.data" > "$OUT/$1.data"
    rm -rf "${OUT:?}/$1" && mkdir -p "$OUT/$1"
}

# ours: the training step's seconds ("seconds" in the metrics log) after
# the warm-up; then batch-1 `detector test` on 3 images ("Predicted in")
ours() {
    three_classes "$1"
    ./darknet detector train "$OUT/$1.data" "$OUT/$1.cfg" -dont_show > "$OUT/$1/train.log" 2>&1
    grep '"type": "iteration"' "$OUT/$1/$1.metrics.jsonl" | sed -n 's/.*"seconds": \([0-9.e+-]*\).*/\1/p' |
        tail -n +$((WARMUP + 1)) | median
}
ours_predict() {
    for img in $(head -4 "$OUT/dn/test.txt"); do
        ./darknet detector test "$OUT/$1.data" "$OUT/$1.cfg" "$OUT/$1/$1_final.weights" "$img" -dont_show \
            -out "$OUT/$1/pred" 2> /dev/null | sed -n 's/.*Predicted in \([0-9.]*\) seconds.*/\1/p'
    done | tail -n +2 | median
}

: > "$OUT/raw.txt"
for r in $(seq 1 "$ROUNDS"); do
    for c in $CFGS; do
        echo "$r $c $(ours "$c") $(ours_predict "$c")" >> "$OUT/raw.txt"
        tail -1 "$OUT/raw.txt" >&2
    done
    /usr/bin/python3 bench/torchvision_frcnn.py "$LIST" --iterations "$ITER" --warmup "$WARMUP" \
        --threads "$THREADS" --predict 3 > "$OUT/torchvision.log" 2>&1
    tv=$(sed -n 's/^train_s_per_iteration=\([0-9.]*\) predict_s=\([0-9.]*\)$/\1 \2/p' "$OUT/torchvision.log")
    echo "$r torchvision $tv" >> "$OUT/raw.txt"
    tail -1 "$OUT/raw.txt" >&2
done

col() { awk -v c="$1" -v k="$2" '$2 == c {print $k}' "$OUT/raw.txt" | median; }
tv_train=$(col torchvision 3)
tv_pred=$(col torchvision 4)
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
fam=$(sed -n 's/^cpu family[^:]*: //p' /proc/cpuinfo | head -1)
model=$(sed -n 's/^model[^:]*: //p' /proc/cpuinfo | grep -v '[a-zA-Z]' | head -1)
tvv=$(/usr/bin/python3 -c 'import torchvision; print(torchvision.__version__)' 2>/dev/null || echo '?')
cat <<MD
## Detection at 800x600 (Faster R-CNN, CPU)

bench/det_speed.sh: \`detector train\` of 3-class copies of the two-stage cfgs
(batch 4, 800x600) on the synthetic VOC set, against torchvision $tvv's
Faster R-CNN built as cfg/faster-rcnn-resnet18-voc.cfg is
(bench/torchvision_frcnn.py, which says what differs), on the same images
and boxes; $THREADS threads each, $ITER timed iterations after $WARMUP of
warm-up, $ROUNDS round(s); $cpu (family $fam, model $model), $(nproc) cores.
Training: seconds of the step (ours: the metrics log's \`seconds\`; loading
excluded on both sides). Inference: batch 1, the median of 3 images (ours:
\`detector test\`'s "Predicted in"; torchvision: the model in eval mode).

| run | s per iteration of 4 images | images/s | against torchvision | inference s/image |
|---|---|---|---|---|
MD
for c in $CFGS; do
    t=$(col "$c" 3)
    p=$(col "$c" 4)
    echo "| ours, $c | $t | $(awk -v t="$t" 'BEGIN {printf "%.3f", 4 / t}') | $(awk -v a="$tv_train" -v b="$t" 'BEGIN {printf "%.2f", a / b}') | $p |"
done
echo "| torchvision, the ResNet-18 network | $tv_train | $(awk -v t="$tv_train" 'BEGIN {printf "%.3f", 4 / t}') | 1 | $tv_pred |"
echo
echo "The machine's load average was $(cut -d' ' -f1-3 /proc/loadavg) at the end."
