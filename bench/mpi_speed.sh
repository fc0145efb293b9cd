#!/bin/sh
# Data-parallel training on this machine: `mpirun -np 2` with one thread
# per rank against one process with two threads, both `classifier train`
# of cfg/cifar_small.cfg (batch 128, 28x28 crops of the 32x32 test shapes),
# the one process with the plain build (./darknet), the ranks with
# build/mpi/darknet.  Per round, each runs ITER iterations; the first 5
# are a warm-up.  Prints a markdown section on stdout: images per second
# (batch over the median iteration time), the ratio, the median time per
# step of the gradient exchange (reduce-scatter, gather of the sums and of
# the per-pass statistics) and of the wait for the slower rank before it,
# and the bytes rank 0 received per step, as counted in the metrics log,
# against a ring allreduce's 2(N-1)/N x G.
#   bench/mpi_speed.sh [ROUNDS] [ITER]
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
ITER=${2:-25}
OUT=build/bench/mpi
mkdir -p "$OUT"
/usr/bin/python3 scripts/gen_shapes_dataset.py "$PWD/build/tests/shapes" --train 400 --valid 100 > /dev/null 2>&1
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
# NAME: the metrics log's iteration_seconds (or $2) after the warm-up
metric() {
    grep '"type": "iteration"' "$OUT/$1/cifar_small.metrics.jsonl" | sed -n "s/.*\"${2:-iteration_seconds}\": \([0-9.e+-]*\).*/\1/p" |
        tail -n +6
}
setup() {
    rm -rf "${OUT:?}/$1" && mkdir -p "$OUT/$1"
    sed "s/^max_batches=.*/max_batches=$ITER/" cfg/cifar_small.cfg > "$OUT/$1/cifar_small.cfg"
    printf 'classes=4\ntrain=%s/train.list\nlabels=%s/labels.txt\nbackup=%s\n' "$PWD/build/tests/shapes" "$PWD/build/tests/shapes" \
        "$OUT/$1" > "$OUT/$1/data.cfg"
}
: > "$OUT/raw.txt"
./darknet netcheck cfg/cifar_small.cfg -steps 0 > "$OUT/params.txt" 2> /dev/null
for r in $(seq 1 "$ROUNDS"); do
    setup one
    OMP_WAIT_POLICY=passive ./darknet classifier train "$OUT/one/data.cfg" "$OUT/one/cifar_small.cfg" -dont_show \
        -threads 2 > "$OUT/one/log" 2>&1
    setup two
    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive $MPIRUN -np 2 build/mpi/darknet classifier train \
        "$OUT/two/data.cfg" "$OUT/two/cifar_small.cfg" -dont_show > "$OUT/two/log" 2>&1
    one=$(metric one | median); two=$(metric two | median); gather=$(metric two allreduce_seconds | median)
    wait=$(metric two allreduce_wait_seconds | median); received=$(metric two bytes_received | median)
    echo "$r $one $two $gather $wait $received" >> "$OUT/raw.txt"
    echo "  round $r: one process $one s/step, 2 ranks $two s/step (exchange $gather s, wait $wait s, $received bytes in)" >&2
done
one=$(awk '{print $2}' "$OUT/raw.txt" | median)
two=$(awk '{print $3}' "$OUT/raw.txt" | median)
gather=$(awk '{print $4}' "$OUT/raw.txt" | median)
wait=$(awk '{print $5}' "$OUT/raw.txt" | median)
received=$(awk '{print $6}' "$OUT/raw.txt" | median)
bytes=$(sed -n 's/.* \([0-9]*\) parameters.*/\1/p' "$OUT/params.txt" | awk '{print 4 * $1}')
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
fam=$(sed -n 's/^cpu family[^:]*: //p' /proc/cpuinfo | head -1)
model=$(sed -n 's/^model[^:]*: //p' /proc/cpuinfo | grep -v '[a-zA-Z]' | head -1)
hyp=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p')
tile=$(build/bench/train_bench predict cfg/cifar_small.cfg -iterations 1 2> /dev/null | sed -n 's/.*gemm_tile=\([^ ]*\).*/\1/p')
cat <<MD
## Data-parallel training (Open MPI, one machine)

bench/mpi_speed.sh: \`classifier train\` of cfg/cifar_small.cfg (batch 128) on
the 32x32 test shapes, $ITER iterations a run (5 warm-up), $ROUNDS rounds;
$cpu (family $fam, model $model), $(nproc) cores${hyp:+, $hyp}, ${tile:-?} gemm tile.
One process with 2 threads (the plain build) against \`mpirun -np 2\` with 1
thread per rank (MPI=1 build, shared memory, \`--bind-to none\`).  Images
per second are the batch over the median iteration time, loading waits
included.

| run | s/step (median) | images/s | ratio to 1 x 2 | exchange s/step | wait before it s/step | bytes received a step (rank 0) | ring allreduce 2(N-1)/N x G |
|---|---|---|---|---|---|---|---|
| 1 process x 2 threads | $one | $(awk -v t="$one" 'BEGIN {printf "%.1f", 128 / t}') | 1 | - | - | - | - |
| 2 ranks x 1 thread | $two | $(awk -v t="$two" 'BEGIN {printf "%.1f", 128 / t}') | $(awk -v a="$one" -v b="$two" 'BEGIN {printf "%.3f", a / b}') | $gather | $wait | $received | $bytes ($(awk -v a="$received" -v b="$bytes" 'BEGIN {printf "%.4f", a / b}') x) |

Each rank runs one forward pass a step; the exchange is the fixed-order
reduce-scatter of the gradient (G = $bytes bytes), the gather of the summed
halves and the small gather of batch-norm statistics and costs, through
shared memory; the wait is the time the faster rank spends before it for
the other to arrive.  The bytes are those counted in the metrics log
(\`bytes_received\`), the statistics and the arrival messages included.
The machine's load average was $(cut -d' ' -f1-3 /proc/loadavg) at the end.
MD
