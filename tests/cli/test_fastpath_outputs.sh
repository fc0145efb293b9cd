#!/bin/sh
# The fast CPU kernels agree with upstream's reference kernels: the same
# weights give the same outputs to float rounding, layer by layer within the
# bound derived for each layer (tests/tools/compare_paths), on trained
# weights (seeded) and on stock upstream cfgs; one thread and two give the
# same bits.  Each gemm tile
# the CPU has (DARKNET_ISA=scalar, avx2, avx512) is checked on its own, and
# AVX-512 gives AVX2's bits; the tiles it lacks are reported as skipped.
# (The reference path itself is checked bit for bit against unpatched
# upstream by test_upstream_compat.sh.)
. "$(dirname "$0")/lib.sh"
shapes_dataset
CFG=$WORK/fast.cfg
sed 's/^max_batches=.*/max_batches=3/; s/^\[net\]/[net]\nseed=3/' tests/data/tiny-classifier.cfg > "$CFG"
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$WORK/fast.data"
check trains ./darknet classifier train "$WORK/fast.data" "$CFG"

# The tiles this CPU can run, from its flags (as the kernels choose them).
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { case $flags in *" $1 "*) return 0;; esac; return 1; }
PATHS=scalar
if has avx2 && has fma; then
    PATHS="$PATHS avx2"
    if has avx512f; then PATHS="$PATHS avx512"; else echo "SKIP fastpath_avx512: this CPU has no AVX-512F"; fi
else
    echo "SKIP fastpath_avx2: this CPU has no AVX2 and FMA"
    echo "SKIP fastpath_avx512: this CPU has no AVX-512F with AVX2"
fi
# Forcing a tile the CPU lacks, or an unknown one, is an error naming both.
for isa in avx2 avx512; do
    case " $PATHS " in *" $isa "*) ;; *)
        expect_error "isa_${isa}_unavailable" "DARKNET_ISA=$isa: this CPU has no" \
            env DARKNET_ISA=$isa build/tests/dump_output "$CFG" "$WORK/fast.weights" "$WORK/none.bin";;
    esac
done
expect_error isa_unknown_value "DARKNET_ISA=avx3: unknown value" \
    env DARKNET_ISA=avx3 build/tests/dump_output "$CFG" "$WORK/fast.weights" "$WORK/none.bin"

# One thread and two give the same outputs, bit for bit; how close they are
# to the reference kernels' is checked layer by layer below (compare_paths).
same_outputs_for_threads() {   # name cfg weights isa
    DARKNET_ISA=$4 OMP_NUM_THREADS=1 build/tests/dump_output "$2" "$3" "$WORK/$1.$4.fast1.bin" > /dev/null 2>&1 &&
    DARKNET_ISA=$4 OMP_NUM_THREADS=2 build/tests/dump_output "$2" "$3" "$WORK/$1.$4.fast2.bin" > /dev/null 2>&1 &&
    cmp -s "$WORK/$1.$4.fast1.bin" "$WORK/$1.$4.fast2.bin"
}
for isa in $PATHS; do
    same_outputs_for_threads trained "$CFG" "$WORK/fast.weights" $isa && pass fast_outputs_trained_1_and_2_threads_$isa \
        || fail fast_outputs_trained_1_and_2_threads_$isa
done

# Training with one thread and with two gives the same weights, bit for bit:
# the batch of 32 spans several image groups, whose weight gradients are
# summed per slot in parallel (src/cpu/fastconv.c, src/gcconv/gcfactor.c).  The second
# network has [gcconv] K=4 with full mixing, 3x3 and 1x1.
/usr/bin/python3 - tests/data/tiny-classifier.cfg "$WORK/tiny-gc.cfg" <<'PY'
import sys
parts = open(sys.argv[1]).read().split("[convolutional]")
parts[2] = parts[2].replace("filters=32", "filters=8")
parts[3] = parts[3].replace("filters=4", "filters=1")
out = parts[0] + "[convolutional]" + parts[1] + "[gcconv]\nbranches=4" + parts[2] + "[gcconv]\nbranches=4" + parts[3]
open(sys.argv[2], "w").write(out)
PY
same_bits_for_threads() {   # name cfg isa
    for t in 1 2; do
        d=$WORK/$1-$3-threads$t
        mkdir -p "$d"
        sed 's/^max_batches=.*/max_batches=3/; s/^\[net\]/[net]\nseed=5/' "$2" > "$d/net.cfg"
        sed "s#backup=.*#backup=$d#" "$SHAPES/shapes.data" > "$d/net.data"
        DARKNET_ISA=$3 ./darknet classifier train "$d/net.data" "$d/net.cfg" -threads $t > "$d/log" 2>&1
    done
    if [ -s "$WORK/$1-$3-threads1/net.weights" ] &&
       cmp -s "$WORK/$1-$3-threads1/net.weights" "$WORK/$1-$3-threads2/net.weights"; then
        pass "fast_training_same_bits_1_and_2_threads_$1_$3"
    else
        fail "fast_training_same_bits_1_and_2_threads_$1_$3" "$(tail -2 "$WORK/$1-$3-threads2/log")"
    fi
}
for isa in $PATHS; do
    same_bits_for_threads conv tests/data/tiny-classifier.cfg $isa
    same_bits_for_threads gcconv "$WORK/tiny-gc.cfg" $isa
done
# The AVX-512 tile makes AVX2's FMAs in AVX2's order: the same outputs and
# the same trained weights, bit for bit.
case " $PATHS " in *" avx512 "*)
    same() { cmp -s "$1" "$2" && pass "$3" || fail "$3" "$1 and $2 differ"; }
    same "$WORK/trained.avx512.fast1.bin" "$WORK/trained.avx2.fast1.bin" fast_outputs_avx512_equal_avx2
    for n in conv gcconv; do
        same "$WORK/$n-avx512-threads2/net.weights" "$WORK/$n-avx2-threads2/net.weights" \
            fast_training_avx512_equals_avx2_$n
    done;;
esac
# Stock upstream cfgs (random weights, sane batch-norm statistics): every
# layer's output, fast against reference, in one process.
for c in tiny resnet18 yolov3-tiny; do
    sed 's/^batch=.*/batch=1/; s/^subdivisions=.*/subdivisions=1/; s/^width=.*/width=64/; s/^height=.*/height=64/' \
        build/darknet/cfg/$c.cfg > "$WORK/$c.cfg"
    for isa in $PATHS; do
        check "fast_layers_stock_${c}_$isa" env DARKNET_ISA=$isa build/tests/compare_paths "$WORK/$c.cfg"
    done
done
for isa in $PATHS; do
    check fast_layers_trained_$isa env DARKNET_ISA=$isa build/tests/compare_paths "$CFG" "$WORK/fast.weights"
done
