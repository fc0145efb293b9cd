#!/bin/sh
# The source tree keeps its plan (tests/tools/layout_check.py): rooms on
# levels from the commands down to the kernels, every #include of ours and
# every call between our objects (read with nm from the build) pointing
# down or within a level, no cycle between rooms or between files, and no
# function longer than about 80 lines.  Then the checker itself is shown
# to catch each fault in a small tree made for it.
. "$(dirname "$0")/lib.sh"
CHECK="/usr/bin/python3 tests/tools/layout_check.py"
# the objects of the build under test (tests/tests.mk sets it; SANITIZE=1 builds elsewhere)
OBJ_DIR=${LAYOUT_OBJ:-build/obj/our}

$CHECK --obj "$OBJ_DIR" > "$WORK/tree.out" 2>&1 && grep -q "^faults: 0$" "$WORK/tree.out" && pass tree_keeps_its_plan ||
    fail tree_keeps_its_plan "$(grep -v '^layout_check' "$WORK/tree.out" | head -5)"
# the MPI and GPU builds' objects too, where they were built (their calls differ)
for other in build/obj-mpi/our build/obj-gpu/our; do
    [ -d "$other" ] || continue
    tag=$(echo "$other" | sed 's#build/obj-\([a-z]*\)/our#\1#')
    $CHECK --obj "$other" > "$WORK/tree-$tag.out" 2>&1 && pass "tree_keeps_its_plan_$tag" ||
        fail "tree_keeps_its_plan_$tag" "$(grep -v '^layout_check' "$WORK/tree-$tag.out" | head -5)"
done
grep -q "arrows" "$WORK/tree.out" && [ "$(sed -n 's/.* files, \([0-9]*\) arrows/\1/p' "$WORK/tree.out")" -gt 300 ] &&
    pass tree_arrows_read || fail tree_arrows_read "$(head -1 "$WORK/tree.out")"

# fixture NAME: a tree of its own under $WORK/NAME/src
fixture() {
    rm -rf "$WORK/$1" && mkdir -p "$WORK/$1/src/cpu" "$WORK/$1/src/train" "$WORK/$1/src/optim" "$WORK/$1/obj/cpu" \
        "$WORK/$1/obj/train"
    F=$WORK/$1/src
}
# expect_fault NAME PATTERN ARGS...: the checker fails, naming the fault
expect_fault() {
    name=$1 pattern=$2; shift 2
    $CHECK "$@" > "$WORK/$name.out" 2>&1
    status=$?
    [ "$status" = 1 ] && grep -qF -- "$pattern" "$WORK/$name.out" && pass "$name" ||
        fail "$name" "status $status: $(tail -3 "$WORK/$name.out")"
}

fixture upward_include
printf '#include "train/loop.h"\n' > "$F/cpu/kernel.c"
printf 'int loop(void);\n' > "$F/train/loop.h"
expect_fault catches_include_against_order "against the order: cpu (kernels) -> train (training)" --src "$F" --obj ''

fixture room_cycle
printf '#include "csgd.h"\n' > "$F/optim/step.h"
printf '#include "optim/step.h"\n' > "$F/csgd.h"
expect_fault catches_room_cycle "cycle between rooms optim, root:csgd" --src "$F" --obj ''

fixture file_cycle
printf '#include "optim/b.h"\n' > "$F/optim/a.h"
printf '#include "optim/a.h"\n' > "$F/optim/b.h"
expect_fault catches_file_cycle "cycle between files $F/optim/a, $F/optim/b" --src "$F" --obj ''

fixture upward_call
printf 'int loop(void);\nint kernel(void) { return loop(); }\n' > "$F/cpu/kernel.c"
printf 'int loop(void) { return 1; }\n' > "$F/train/loop.c"
cc -c "$F/cpu/kernel.c" -o "$WORK/upward_call/obj/cpu/kernel.o" &&
    cc -c "$F/train/loop.c" -o "$WORK/upward_call/obj/train/loop.o"
expect_fault catches_call_against_order "src/cpu/kernel.c calls loop" --src "$F" --obj "$WORK/upward_call/obj"

fixture long_function
{ echo 'int f(void)'; echo '{'; i=0; while [ $i -lt 90 ]; do echo '    ;'; i=$((i + 1)); done; echo '}'; } > "$F/cpu/long.c"
expect_fault catches_long_function "long function: $F/cpu/long.c" --src "$F" --obj ''

fixture unknown_room
mkdir -p "$F/misc" && printf 'int x;\n' > "$F/misc/x.c"
expect_fault catches_room_on_no_level "room misc is on no level" --src "$F" --obj ''
