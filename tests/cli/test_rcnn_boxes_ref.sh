#!/bin/sh
# The two-stage box mathematics (src/rcnn/rcnn_boxes.c) against an
# independent numpy reference (tests/ref/rcnn_boxes_ref.py) on random cases:
# anchors, IoU, anchor labels and their matched truths, encoding, decoding,
# clipping, NMS and the top-N selection.  The reference writes the cases,
# the unit test binary's --dump mode computes the C results, and the
# reference compares them (its header states each tolerance).
. "$(dirname "$0")/lib.sh"
BIN=build/tests/test_rcnn_boxes
if [ ! -x "$BIN" ]; then
    fail ref_binary "$BIN is missing (make build/tests/test_rcnn_boxes)"
    exit 1
fi
for seed in 1 2 3; do
    cases=$WORK/cases_$seed.txt
    results=$WORK/results_$seed.txt
    if ! /usr/bin/python3 tests/ref/rcnn_boxes_ref.py write "$cases" "$seed" > "$WORK/write_$seed.out" 2>&1; then
        fail "ref_write_seed$seed" "$(tail -3 "$WORK/write_$seed.out")"
        continue
    fi
    if ! "$BIN" --dump "$cases" "$results" > "$WORK/dump_$seed.out" 2>&1; then
        fail "ref_dump_seed$seed" "$(tail -3 "$WORK/dump_$seed.out")"
        continue
    fi
    # each check's name gets the seed, so that every line counts once
    /usr/bin/python3 tests/ref/rcnn_boxes_ref.py check "$cases" "$results" > "$WORK/check_$seed.out" 2>&1
    status=$?
    sed -n "s/^\(PASS\|FAIL\) \([a-z_]*\)/\1 \2_seed$seed/p" "$WORK/check_$seed.out"
    if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$WORK/check_$seed.out"; then
        fail "ref_check_seed$seed" "exit status $status: $(tail -3 "$WORK/check_$seed.out")"
    fi
done
