#!/bin/sh
# Replays every input the fuzzers ever crashed on (tests/fuzz/regressions/)
# and the seed corpus (tests/fuzz/corpus/) through each fuzz target once.
# An input passes when the target returns, or stops with exit(1) after an
# error message; a crash, a sanitizer report (under SANITIZE=1), any other
# exit status or a hang fails it.
. "$(dirname "$0")/lib.sh"
for t in cfg data weights boxes labels; do
    dirs=""
    for d in tests/fuzz/regressions/$t tests/fuzz/corpus/$t; do
        [ -d "$d" ] && [ -n "$(ls "$d")" ] && dirs="$dirs $d"
    done
    if [ -z "$dirs" ]; then
        fail "replay_$t" "no inputs"
        continue
    fi
    # shellcheck disable=SC2086
    timeout 300 build/tests/replay_$t $dirs > "$WORK/$t.out" 2>&1
    status=$?
    if [ "$status" -eq 0 ] && grep -q 'all handled' "$WORK/$t.out"; then
        pass "replay_$t"
    else
        fail "replay_$t" "exit status $status: $(grep -B2 -A8 'ERROR\|runtime error\|replay:' "$WORK/$t.out" | tail -12)"
    fi
done
