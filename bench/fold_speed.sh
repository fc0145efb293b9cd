#!/bin/sh
# Inference speed of a CCNN against its fold into plain [convolutional]
# layers (./darknet gcfold), both in our build, batch 1, measured side by
# side: each round runs the CCNN, then the fold.  Prints a Markdown section
# (bench/run puts it in BENCHMARKS.md); raw figures in build/bench/fold/.
#
# usage: bench/fold_speed.sh [ROUNDS] [THREADS]
# Threads wait passively (OMP_WAIT_POLICY=passive), as in bench/run: at
# batch 1 the parallel regions are short, and spinning threads on a shared
# machine make the figures meaningless.
set -eu
export OMP_WAIT_POLICY=passive
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${2:-1}
OUT=build/bench/fold
TB=build/bench/train_bench
mkdir -p "$OUT"
field() { tr ' ' '\n' | sed -n "s/^$1=\([0-9.e+-]*\)$/\1/p" | head -1; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# cfg and predict iterations per run.  mnist-small-k2's [gcmerge] head has
# no upstream layer to fold into; the rest of the network is what is timed.
sed '/^\[gcmerge\]/,/^$/d' cfg/mnist-small-k2.cfg > "$OUT/mnist-small-k2-nomerge.cfg"
set -- "$OUT/mnist-small-k2-nomerge.cfg" 300 cfg/resnet18-cifar-k4.cfg 50 cfg/yolov3-tiny-voc-gc.cfg 5
rows=""
while [ $# -ge 2 ]; do
    cfg=$1 iter=$2; shift 2
    name=$(basename "$cfg" .cfg)
    d=$OUT/$name
    mkdir -p "$d"
    "$TB" files "$cfg" "$d" 2> /dev/null
    ./darknet gcfold "$cfg" "$d/net.weights" "$d/fold.cfg" "$d/fold.weights" 2> /dev/null
    : > "$d/ccnn.txt"; : > "$d/fold.txt"
    for r in $(seq 1 "$ROUNDS"); do
        "$TB" predict "$cfg" -iterations "$iter" -threads "$THREADS" 2> /dev/null | field latency_ms >> "$d/ccnn.txt"
        "$TB" predict "$d/fold.cfg" -iterations "$iter" -threads "$THREADS" 2> /dev/null | field latency_ms >> "$d/fold.txt"
    done
    c=$(median < "$d/ccnn.txt"); f=$(median < "$d/fold.txt")
    rows="$rows| $cfg | $c ms | $f ms | $(awk -v c="$c" -v f="$f" 'BEGIN {printf "%.2f", f / c}') |
"
done
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
cat <<EOM
## A CCNN against its fold (inference, batch 1)

Machine: ${cpu:-unknown CPU}, $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).

bench/fold_speed.sh: network_predict latency (median over $ROUNDS rounds, each
the median of its iterations) of each CCNN and of its fold by
\`./darknet gcfold\`, both in our build, threads: $THREADS, side by side in each round.
The fold runs full mixing as one dense convolution with H, K² times the
plain convolution C -> N; our [gcconv] takes the factored path, K times
(docs/gcconv.md), so where those products dominate the CCNN is the faster
of the two in our build.  The fold is for the Darknets and readers that
have no [gcconv].

| cfg | CCNN | fold | fold / CCNN |
|---|---|---|---|
$rows
EOM
