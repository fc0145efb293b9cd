#!/bin/sh
# Detection at the paper's scale: `detector train` of the two-stage cfgs at
# 800x600, batch 4, against torchvision's Faster R-CNN built the same way
# (bench/torchvision_frcnn.py), both on the same JPEG files and boxes (the
# synthetic VOC set of scripts/gen_voc_shapes.py, 3 classes), with the same
# thread count; and batch-1 inference (`detector test` against torchvision
# in eval mode).  Each cfg is compared with its own torchvision network:
# the ResNet-18 pair (faster-rcnn-resnet18-voc and its -gc twin) with
# torchvision_frcnn.py --network resnet18, the AlexNet pair
# (faster-rcnn-alexnet-voc and its -gc twin) with --network alexnet; each
# network that a cfg of DET_SPEED_CFGS needs runs once a round, after ours.
# Other cfgs (the small pair) have no twin: "no twin" in that column.  A
# name ending in +im2col runs that cfg with winograd=0 in [net] (the 800x600
# cfgs set winograd=1), so that both paths are timed side by side.  Prints a
# markdown section on stdout; raw output in build/bench/det.
#   bench/det_speed.sh [ROUNDS] [ITER]
# Environment: DET_SPEED_THREADS (default 2), DET_SPEED_WARMUP (iterations
# left out of the timing, default 1), DET_SPEED_CFGS (default the ResNet-18
# pair; e.g. "faster-rcnn-resnet18-voc faster-rcnn-resnet18-voc-gc
# faster-rcnn-alexnet-voc faster-rcnn-alexnet-voc-gc" for both pairs).
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
# $1 cfg name: the torchvision network built as it is, or nothing
twin() {
    case "${1%+im2col}" in
        faster-rcnn-resnet18-voc | faster-rcnn-resnet18-voc-gc) echo resnet18 ;;
        faster-rcnn-alexnet-voc | faster-rcnn-alexnet-voc-gc) echo alexnet ;;
    esac
}
# the networks that CFGS needs, each once, in the order the cfgs come
NETS=
for c in $CFGS; do
    n=$(twin "$c")
    [ -n "$n" ] || continue
    case " $NETS " in *" $n "*) ;; *) NETS="$NETS $n" ;; esac
done
NETS=${NETS# }
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
export OMP_NUM_THREADS="$THREADS" OMP_WAIT_POLICY=passive

# $1 cfg name: a 3-class copy that runs WARMUP + ITER iterations (with
# winograd=0 for a name ending in +im2col)
three_classes() {
    algo=
    case "$1" in *+im2col) algo="s/^winograd=1/winograd=0/;" ;; esac
    sed "s/^classes=20/classes=3/; s/^output=101/output=16/; s/^max_batches=.*/max_batches=$((WARMUP + ITER))/; \
s/^steps=.*/steps=100000/; $algo" "cfg/${1%+im2col}.cfg" > "$OUT/$1.cfg"
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
    for n in $NETS; do
        /usr/bin/python3 bench/torchvision_frcnn.py "$LIST" --network "$n" --iterations "$ITER" --warmup "$WARMUP" \
            --threads "$THREADS" --predict 3 > "$OUT/torchvision-$n.log" 2>&1
        tv=$(sed -n 's/^train_s_per_iteration=\([0-9.]*\) predict_s=\([0-9.]*\)$/\1 \2/p' "$OUT/torchvision-$n.log")
        echo "$r torchvision-$n $tv" >> "$OUT/raw.txt"
        tail -1 "$OUT/raw.txt" >&2
    done
done

col() { awk -v c="$1" -v k="$2" '$2 == c {print $k}' "$OUT/raw.txt" | median; }
# $1 network: its name in the table; the cfg it is built as
name() { case "$1" in resnet18) echo "ResNet-18" ;; alexnet) echo "AlexNet" ;; esac; }
built_as() { case "$1" in resnet18) echo cfg/faster-rcnn-resnet18-voc.cfg ;; alexnet) echo cfg/faster-rcnn-alexnet-voc.cfg ;; esac; }
tvv=$(/usr/bin/python3 -c 'import torchvision; print(torchvision.__version__)' 2>/dev/null || echo '?')
case $(echo $NETS | wc -w) in
    0) against="without torchvision (bench/torchvision_frcnn.py builds no network as these cfgs are);" ;;
    1) against="against torchvision $tvv's
Faster R-CNN built as $(built_as $NETS) is
(bench/torchvision_frcnn.py, which says what differs), on the same images
and boxes;" ;;
    *) against="against torchvision $tvv's
Faster R-CNN built as each pair's cfg is, each cfg against its own network
($(for n in $NETS; do printf '%s, ' "$(built_as "$n")"; done | sed 's/, $//');
bench/torchvision_frcnn.py, which says what differs), on the same images
and boxes;" ;;
esac
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
fam=$(sed -n 's/^cpu family[^:]*: //p' /proc/cpuinfo | head -1)
model=$(sed -n 's/^model[^:]*: //p' /proc/cpuinfo | grep -v '[a-zA-Z]' | head -1)
cat <<MD
## Detection at 800x600 (Faster R-CNN, CPU)

bench/det_speed.sh: \`detector train\` of 3-class copies of the two-stage cfgs
(batch 4, 800x600) on the synthetic VOC set, $against $THREADS threads each, $ITER timed iterations after $WARMUP of
warm-up, $ROUNDS round(s); $cpu (family $fam, model $model), $(nproc) cores.
Training: seconds of the step (ours: the metrics log's \`seconds\`; loading
excluded on both sides). Inference: batch 1, the median of 3 images (ours:
\`detector test\`'s "Predicted in"; torchvision: the model in eval mode).

| run | s per iteration of 4 images | images/s | against torchvision (its network) | inference s/image |
|---|---|---|---|---|
MD
for c in $CFGS; do
    t=$(col "$c" 3)
    p=$(col "$c" 4)
    n=$(twin "$c")
    if [ -n "$n" ]; then
        ratio=$(awk -v a="$(col "torchvision-$n" 3)" -v b="$t" 'BEGIN {printf "%.2f", a / b}')
        ratio="$ratio ($(name "$n"))"
    else
        ratio="no twin"
    fi
    echo "| ours, $c | $t | $(awk -v t="$t" 'BEGIN {printf "%.3f", 4 / t}') | $ratio | $p |"
done
for n in $NETS; do
    t=$(col "torchvision-$n" 3)
    echo "| torchvision, the $(name "$n") network | $t | $(awk -v t="$t" 'BEGIN {printf "%.3f", 4 / t}') | 1 | $(col "torchvision-$n" 4) |"
done
echo
echo "The machine's load average was $(cut -d' ' -f1-3 /proc/loadavg) at the end."
