#!/bin/sh
# The whole `./darknet classifier train` command of cfg/cifar_small.cfg
# (batch 128) reading PNG files, with the decoded-image cache on and off,
# against PyTorch training the same network (bench/pytorch_cifar_small.py)
# on the same PNG files through a DataLoader, and on tensors in memory (the
# comparison of the other rows).  Each round runs the four back to back, so
# that they see the same machine load; the table gives medians over rounds
# and the medians of the per-round ratios.  Prints a Markdown section
# (bench/run puts it in BENCHMARKS.md); raw figures in build/bench/whole/.
#
# usage: bench/whole_command.sh [ROUNDS] [THREADS]
# Environment: BENCH_WHOLE_ITERATIONS (training iterations per run, default
# 100), BENCH_WHOLE_IMAGES (synthetic CIFAR-like PNG images of the train
# list, default 5000: 100 iterations then draw each about 2.6 times),
# OMP_WAIT_POLICY (as the caller sets it; bench/run: passive).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${2:-2}
ITER=${BENCH_WHOLE_ITERATIONS:-100}
IMAGES=${BENCH_WHOLE_IMAGES:-5000}
PY=/usr/bin/python3
OUT=build/bench/whole
SET=$OUT/cifar-$IMAGES
mkdir -p "$OUT"
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# The PNG files, made once per size: synthetic CIFAR-10 records, converted
# by the project's own converter.
if [ ! -s "$SET/png/cifar10.data" ]; then
    "$PY" bench/synthetic_cifar.py "$SET/bin" --train "$IMAGES" --test 100
    "$PY" scripts/cifar.py "$SET/bin" "$SET/png" > "$OUT/convert.txt" 2>&1
fi
DATA=$SET/png/cifar10.data
CFG=$OUT/cifar_small-$ITER.cfg
# seeded, so that every run of ours trains the same network on the same draws
sed "s/^max_batches=.*/max_batches=$ITER/; s/^batch=128/batch=128\nseed=1/" cfg/cifar_small.cfg > "$CFG"
: > "$OUT/raw.txt"

# timed NAME COMMAND...: appends "NAME wall_s cpu_s" (the whole process:
# start, loading, training and saving) to raw.txt.
timed() {
    name=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$OUT/time.txt" "$@" > "$OUT/$name.out" 2>&1 || {
        echo "bench: $name failed:" >&2; tail -5 "$OUT/$name.out" >&2; exit 1; }
    awk -v n="$name" '{print n, $1, $2 + $3}' "$OUT/time.txt" >> "$OUT/raw.txt"
    echo "  $name: $(cut -d' ' -f1 "$OUT/time.txt") s wall" >&2
}

for r in $(seq 1 "$ROUNDS"); do
    echo "whole command, round $r/$ROUNDS" >&2
    timed ours_cached ./darknet classifier train "$DATA" "$CFG" -dont_show -threads "$THREADS"
    cp "$OUT/ours_cached.out" "$OUT/ours_cached_last.out"
    timed ours_uncached env DARKNET_IMAGE_CACHE_MB=0 ./darknet classifier train "$DATA" "$CFG" -dont_show -threads "$THREADS"
    timed torch_png "$PY" bench/pytorch_cifar_small.py --iterations "$ITER" --warmup 0 --threads "$THREADS" \
        --png-list "$SET/png/train.list" --labels "$SET/png/labels.txt"
    timed torch_tensors "$PY" bench/pytorch_cifar_small.py --iterations "$ITER" --warmup 0 --threads "$THREADS"
done

col() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$OUT/raw.txt" | median; }
ratio() {   # median over rounds of the wall time of B over that of A (A's speed-up)
    awk -v a="$1" -v b="$2" '$1 == a {x[++i]=$2} $1 == b {y[++j]=$2} END {for (k = 1; k <= i && k <= j; ++k) printf "%.2f\n", y[k]/x[k]}' "$OUT/raw.txt" | median
}
ips() { awk -v w="$(col "$1" 2)" -v n="$ITER" 'BEGIN {printf "%.0f", n * 128 / w}'; }
row() {   # row NAME LABEL
    echo "| $2 | $(col "$1" 2) s | $(col "$1" 3) s | $(ips "$1") | $(ratio "$1" torch_png) | $(ratio "$1" torch_tensors) |"
}
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
case $flags in
    *" avx512f "*) tile=avx512f ;;
    *" avx2 "*" fma "*|*" fma "*" avx2 "*) tile=avx2+fma ;;
    *) tile=scalar ;;
esac
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
fam=$(sed -n 's/^cpu family[^:]*: //p' /proc/cpuinfo | head -1)
model=$(sed -n 's/^model[^:]*: //p' /proc/cpuinfo | grep -v '[a-zA-Z]' | head -1)
cache_line=$(grep '^image cache' "$OUT/ours_cached_last.out" || echo "image cache: (no line)")
loader_line=$(grep '^loader threads' "$OUT/ours_cached_last.out" || echo "loader threads: (no line)")
cat <<EOM
## The whole training command, from PNG files

bench/whole_command.sh: \`./darknet classifier train\` of cfg/cifar_small.cfg
(batch 128, seed=1, $ITER iterations, $THREADS threads, gemm tile $tile: the
CPU's default) on $IMAGES synthetic CIFAR-like 32x32 PNG files
(bench/synthetic_cifar.py, converted by scripts/cifar.py), timed as a whole
process by /usr/bin/time: start, cfg, loading and decoding, training and
saving the weights.  "cache off" is \`DARKNET_IMAGE_CACHE_MB=0\`.  PyTorch
(bench/pytorch_cifar_small.py, the same network, $ITER iterations, no
warm-up, the interpreter's start and \`import torch\` included) once reads the
same PNG files through a DataLoader (one worker process, Pillow decoding,
random 28x28 crop and flip) and once trains on random tensors in memory, as
the training rows above do.  $ROUNDS rounds, the four runs side by side in
each; medians over rounds, and medians of the per-round ratios (PyTorch's
wall time over the row's: above 1, the row is the faster).

Machine: ${cpu:-unknown CPU} (family $fam, model $model), $(nproc) cores; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset (libgomp's default)}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).
Last cached run: "$cache_line"; "$loader_line".

| run | wall (median) | CPU, user + system (median) | images/s (wall) | PyTorch from PNG / this (wall) | PyTorch on tensors / this (wall) |
|---|---|---|---|---|---|
$(row ours_cached "ours, cache on")
$(row ours_uncached "ours, cache off")
$(row torch_png "PyTorch, PNG files through a DataLoader")
$(row torch_tensors "PyTorch, tensors in memory")
EOM
