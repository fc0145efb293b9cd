#!/bin/sh
# Every upstream cfg that make links into cfg/ (scripts/link-upstream.sh)
# parses with our build, at batch 1: the layer registry, the strict value
# checks and the [net] checks accept all of them.  (Our own cfgs also train
# a step in test_cfgs.sh; upstream's include feature extractors without a
# loss and text RNNs, which train only with their own commands.)
. "$(dirname "$0")/lib.sh"
parse_one() {
    net=$(basename "$1" .cfg)
    sed -e 's/^batch=.*/batch=1/; s/^subdivisions=.*/subdivisions=1/' "$1" > "$WORK/$net.cfg"
    check "parse_$net" build/tests/parse_cfg "$WORK/$net.cfg"
}
linked=""
n=0
for cfg in cfg/*.cfg; do
    [ -L "$cfg" ] || continue
    linked="$linked $cfg"
    n=$((n + 1))
done
# Parsing the large ones is mostly their weights' random initialisation,
# one thread each: side by side.
in_lanes parse_one $linked
[ "$n" -ge 40 ] && pass upstream_cfgs_linked || fail upstream_cfgs_linked "$n upstream cfgs in cfg/"
