# Shared helpers for the command-line tests (sourced, not run).
# Each check prints "PASS name" or "FAIL name"; tests/run counts them.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
WORK=$ROOT/build/tests/work/$(basename "$0" .sh)
rm -rf "$WORK" && mkdir -p "$WORK"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }

# check NAME COMMAND...: passes when COMMAND exits 0.
check() {
    name=$1; shift
    if "$@" > "$WORK/$name.out" 2>&1; then pass "$name"; else fail "$name" "$(tail -3 "$WORK/$name.out")"; fi
}

# expect_error NAME PATTERN COMMAND...: passes when COMMAND exits with status
# 1 and its output contains PATTERN (a fixed string).
expect_error() {
    name=$1; pattern=$2; shift 2
    "$@" > "$WORK/$name.out" 2>&1
    status=$?
    if [ "$status" -ne 1 ]; then
        fail "$name" "exit status $status, expected 1"
    elif ! grep -qF -- "$pattern" "$WORK/$name.out"; then
        fail "$name" "message lacks '$pattern': $(tail -2 "$WORK/$name.out")"
    else
        pass "$name"
    fi
}

# The shared generated dataset (made once, reused by every script).
shapes_dataset() {
    SHAPES=$ROOT/build/tests/shapes
    /usr/bin/python3 scripts/gen_shapes_dataset.py "$SHAPES" --train 400 --valid 100 2>/dev/null
}

# garbled_png GOOD OUT: a copy of the PNG file GOOD whose compressed data is
# garbage, still whole (IEND at its end): it passes the checks made on a
# file's start, and the decoder refuses it.
garbled_png() {
    /usr/bin/python3 - "$1" "$2" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.index(b'IDAT') + 8
b[i:i + 64] = bytes(range(64))
open(sys.argv[2], 'wb').write(b)
PYEOF
}

# in_lanes FUNC ITEM...: FUNC ITEM for every item, the items dealt in turn
# to one lane per CPU (at most 4) that run side by side, each lane's
# OpenMP jobs on its share of the CPUs; the items' output then follows in
# item order.  For checks that are independent and use their own files;
# it waits for every background job of the calling script.
in_lanes() {
    func=$1; shift
    cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    lanes=$((cpus < 4 ? cpus : 4))
    lane=0
    while [ "$lane" -lt "$lanes" ]; do
        (
            export OMP_NUM_THREADS=$((cpus / lanes))
            i=0
            for item in "$@"; do
                if [ $((i % lanes)) -eq "$lane" ]; then "$func" "$item" > "$WORK/lane_item_$i" 2>&1; fi
                i=$((i + 1))
            done
        ) &
        lane=$((lane + 1))
    done
    wait
    i=0
    for item in "$@"; do
        cat "$WORK/lane_item_$i"
        rm -f "$WORK/lane_item_$i"
        i=$((i + 1))
    done
}
