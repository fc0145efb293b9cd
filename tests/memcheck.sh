#!/bin/sh
# make memcheck: a short [gcconv] training run (csgd, seeded, three steps,
# one save) under valgrind's memcheck.  Fails on any memory error and on
# any definite leak not listed in tests/valgrind.supp (which lists only
# blocks upstream allocates and never frees).
set -eu
cd "$(dirname "$0")/.."
out=build/memcheck
rm -rf "$out" && mkdir -p "$out/backup"
/usr/bin/python3 scripts/gen_shapes_dataset.py build/tests/shapes --train 400 --valid 100 2>/dev/null
sed "s#backup=.*#backup=$out/backup#" build/tests/shapes/shapes.data > "$out/memcheck.data"
if valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --suppressions=tests/valgrind.supp --num-callers=20 \
        ./darknet classifier train "$out/memcheck.data" tests/data/memcheck.cfg > "$out/log" 2>&1; then
    grep 'ERROR SUMMARY' "$out/log"
    echo "memcheck: no errors"
else
    grep -B2 -A20 'Invalid\|uninitialised\|definitely lost in' "$out/log" | head -80
    grep 'ERROR SUMMARY' "$out/log"
    echo "memcheck: errors (full log in $out/log)"
    exit 1
fi
