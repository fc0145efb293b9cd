#!/bin/sh
# The two-rank case of tests/gpu/run: data-parallel training on the GPU with
# the MPI=1 GPU=1 build (docs/distributed.md, "GPUs").  The classifier of
# tests/cli/test_mpi.sh trains 6 steps as one process with subdivisions=6
# and as 2 ranks with subdivisions=3 each, both on the GPU; the exchange
# sums the passes in the same order, so the weights and state are the same
# bits as long as the GPU kernels are deterministic for a given pass.
# Prints PASS/FAIL lines; without Open MPI it says so and passes nothing.
set -u
cd "$(dirname "$0")/../.." || exit 1
log_dir=build/tests/gpu/mpi
rm -rf "$log_dir" && mkdir -p "$log_dir"
if ! command -v mpicc > /dev/null 2>&1 || ! command -v mpirun > /dev/null 2>&1; then
    echo "skipped: the two-rank case needs Open MPI (mpicc, mpirun; 'make deps' installs it)"
    exit 0
fi
if ! make -j"$(nproc)" GPU=1 MPI=1 OPENCV=0 BIN=build/gpu-mpi > "$log_dir/build.log" 2>&1; then
    tail -20 "$log_dir/build.log"
    echo "FAIL mpi_gpu_build"
    exit 0
fi
echo "PASS mpi_gpu_build"
DN=build/gpu-mpi/darknet
/usr/bin/env python3 scripts/gen_shapes_dataset.py "$PWD/build/tests/shapes" --train 400 --valid 100 > /dev/null 2>&1
head -48 build/tests/shapes/train.list > "$log_dir/train48.list"
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
# $1 name, $2 ranks (0: one process without mpirun), $3 subdivisions
train() {
    d=$log_dir/$1
    mkdir -p "$d"
    sed "s/^subdivisions=.*/subdivisions=$3/" tests/data/dist-classifier.cfg > "$d/net.cfg"
    printf 'classes=4\ntrain=%s\nlabels=%s\nbackup=%s\n' "$PWD/$log_dir/train48.list" \
        "$PWD/build/tests/shapes/labels.txt" "$d" > "$d/data.cfg"
    if [ "$2" = 0 ]; then
        "$DN" classifier train "$d/data.cfg" "$d/net.cfg" -dont_show > "$d/log" 2>&1
    else
        $MPIRUN -np "$2" "$DN" classifier train "$d/data.cfg" "$d/net.cfg" -dont_show > "$d/log" 2>&1
    fi
}
if train one 0 6 && train two 2 3 && [ -s "$log_dir/one/net.weights" ] && [ -s "$log_dir/two/net.weights" ]; then
    echo "PASS mpi_gpu_runs"
    if cmp -s "$log_dir/one/net.weights" "$log_dir/two/net.weights" &&
        cmp -s "$log_dir/one/net.weights.state" "$log_dir/two/net.weights.state"; then
        echo "PASS mpi_gpu_np2_equals_one_process"
    else
        echo "FAIL mpi_gpu_np2_equals_one_process: $(cmp "$log_dir/one/net.weights" "$log_dir/two/net.weights" | head -1)"
    fi
else
    echo "FAIL mpi_gpu_runs: $(tail -3 "$log_dir/one/log" "$log_dir/two/log" | tr '\n' ' ')"
fi
