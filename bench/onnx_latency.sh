#!/bin/sh
# Batch-1 inference latency of OpenCV's dnn module on the ONNX model that
# `./darknet export onnx` writes, against our build's network_predict on
# the same cfg and weights, side by side: each round runs ./darknet's
# (bench/train_bench predict), then OpenCV's (bench/onnx_latency.py).
# Prints a Markdown section (bench/run puts it in BENCHMARKS.md); raw
# figures in build/bench/onnx/.
#
# usage: bench/onnx_latency.sh [ROUNDS] [THREADS]
# Both run THREADS threads (OpenMP's in ours, cv2.setNumThreads in
# OpenCV's), and ours waits passively, as in bench/fold_speed.sh.
set -eu
export OMP_WAIT_POLICY=passive
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${2:-1}
OUT=build/bench/onnx
TB=build/bench/train_bench
PY=/usr/bin/python3
mkdir -p "$OUT"
field() { tr ' ' '\n' | sed -n "s/^$1=\([0-9.e+-]*\)$/\1/p" | head -1; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# cfg and predict iterations per run (upstream's yolov3-tiny.cfg: plain
# convolutions, no [gcconv]).  The weights are train_bench's
# initial ones (`files`), the ones its `predict` runs, so both sides run
# the same model.
set -- cfg/cifar_small.cfg 300 cfg/resnet18-cifar-k2.cfg 50 cfg/yolov3-tiny-voc-gc.cfg 5 build/darknet/cfg/yolov3-tiny.cfg 5
rows=""
while [ $# -ge 2 ]; do
    cfg=$1 iter=$2; shift 2
    name=$(basename "$cfg" .cfg)
    d=$OUT/$name
    mkdir -p "$d"
    "$TB" files "$cfg" "$d" 2> /dev/null
    ./darknet export onnx "$cfg" "$d/net.weights" "$d/net.onnx" 2> /dev/null
    : > "$d/darknet.txt"; : > "$d/opencv.txt"
    for r in $(seq 1 "$ROUNDS"); do
        "$TB" predict "$cfg" -iterations "$iter" -threads "$THREADS" 2> /dev/null | field latency_ms >> "$d/darknet.txt"
        $PY bench/onnx_latency.py "$d/net.onnx" "$iter" "$THREADS" 2> /dev/null | field latency_ms >> "$d/opencv.txt"
    done
    dn=$(median < "$d/darknet.txt"); cv=$(median < "$d/opencv.txt")
    rows="$rows| $cfg | $dn ms | $cv ms | $(awk -v a="$dn" -v b="$cv" 'BEGIN {printf "%.2f", b / a}') |
"
done
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
cv_version=$($PY -c 'import cv2; print(cv2.__version__)' 2> /dev/null || echo unknown)
cat <<EOM
## OpenCV on the exported ONNX against ./darknet (inference, batch 1)

Machine: ${cpu:-unknown CPU}, $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).

bench/onnx_latency.sh: batch-1 latency (median over $ROUNDS rounds, each the
median of its iterations) of our build's network_predict and of OpenCV
$cv_version's dnn module (its own CPU backend, \`readNetFromONNX\`) on the model
\`./darknet export onnx\` writes from the same cfg and weights; threads: $THREADS
on both sides, side by side in each round.  OpenCV's time includes
\`setInput\` and the Python call; the [gcconv] layers run in OpenCV as their
fold, one dense convolution with K² times the plain convolution's
products, where ours takes the factored path (docs/gcconv.md).

| cfg | ./darknet | OpenCV (ONNX) | OpenCV / ./darknet |
|---|---|---|---|
$rows
EOM
