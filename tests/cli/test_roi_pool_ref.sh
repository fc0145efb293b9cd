#!/bin/sh
# RoIAlign and RoIPool (src/rcnn/roi_pool.c) against an independent numpy
# reference written from the definitions (tests/ref/roi_align_ref.py): 40
# random cases (maps of 1..20 pixels a side, S of 1 to 14, five scales,
# ROIs inside, across the border, outside, tiny, reversed and unusable),
# forward, argmax and backward.  Tolerances: align 1e-5 + 1e-5 * |value|;
# max outputs and argmax exact, its gradients 1e-5 + 1e-5 * |value|.
# build/tests/roi_pool_run is built by `make test-build`.
. "$(dirname "$0")/lib.sh"
REF="/usr/bin/python3 tests/ref/roi_align_ref.py"
TOOL=build/tests/roi_pool_run
if [ ! -x "$TOOL" ]; then
    fail roi_pool_run_built "$TOOL is missing: make $TOOL"
    exit 1
fi
check roi_ref_cases_made $REF make "$WORK/cases.bin" --seed 7 --count 40
check roi_kernels_ran "$TOOL" "$WORK/cases.bin" "$WORK/ours.bin"
check roi_align_matches_reference $REF check "$WORK/cases.bin" "$WORK/ours.bin" --only align
check roi_max_matches_reference $REF check "$WORK/cases.bin" "$WORK/ours.bin" --only max
# The comparison must be able to fail: one align output moved by 1e-3.
$REF corrupt "$WORK/cases.bin" "$WORK/ours.bin" "$WORK/wrong.bin" > "$WORK/corrupt.out" 2>&1
if $REF check "$WORK/cases.bin" "$WORK/wrong.bin" --only align > "$WORK/wrong.out" 2>&1; then
    fail roi_ref_detects_a_wrong_value "a corrupted output passed"
elif grep -q "outputs off by" "$WORK/wrong.out"; then
    pass roi_ref_detects_a_wrong_value
else
    fail roi_ref_detects_a_wrong_value "$(tail -2 "$WORK/wrong.out")"
fi
