#!/bin/sh
# The main job: convert Fashion-MNIST (Debian's dataset-fashion-mnist) into
# the classifier layout, then train a CCNN and its plain twin with the same
# seed and budget, each validated every half epoch on 2000 test images, and
# evaluate both final weights on all 10000.  It ends with a table (test
# error, parameters, training time, img/s) and one chart of both networks'
# error curves.  A few minutes on two CPU cores.
#   CFG=path       the CCNN (default cfg/fashion-cnn-k2.cfg)
#   PLAIN=path     its plain twin (default cfg/fashion-cnn.cfg; PLAIN= skips it)
#   DEMO_OUT=dir   where the dataset is converted (default data/generated/fashion-mnist)
#   DEMO_LIMIT=N   convert only the first N images of each split (for tests)
set -eu
cd "$(dirname "$0")/.."
# Idle OpenMP threads sleep instead of spinning, which on a machine with
# few cores takes the loader's and the other compute thread's time
# (docs/performance.md, "Wait policy"); a value already set is kept.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
start=$(date +%s)
OUT=${DEMO_OUT:-data/generated/fashion-mnist}
BACKUP=$OUT/backup
/usr/bin/python3 scripts/fashion_mnist.py "$OUT" ${DEMO_LIMIT:+--limit "$DEMO_LIMIT"}
CFG=${CFG:-cfg/fashion-cnn-k2.cfg}
PLAIN=${PLAIN-cfg/fashion-cnn.cfg}

# Validation during training uses the first 2000 test images, to keep it quick.
head -n 2000 "$OUT/valid.list" > "$OUT/valid-2000.list"
sed "s#^valid=.*#valid=$(cd "$OUT" && pwd)/valid-2000.list#" "$OUT/fashion-mnist.data" > "$OUT/demo.data"

report_args=""
for cfg in "$CFG" $PLAIN; do
    name=$(basename "$cfg" .cfg)
    # A metrics log is appended to; the demo's table is about this run only.
    rm -f "$BACKUP/$name.metrics.jsonl"
    echo "demo: training $cfg on $OUT (weights, log and chart in $BACKUP)"
    ./darknet classifier train "$OUT/demo.data" "$cfg" -valid_every 0.5 -dont_show 2>/dev/null \
        | grep -v '^Loaded: '
    echo "demo: validating $BACKUP/$name.weights on all test images"
    ./darknet classifier valid "$OUT/fashion-mnist.data" "$cfg" "$BACKUP/$name.weights" \
        -quiet -json "$BACKUP/$name.valid.json" 2>/dev/null
    parameters=$(./darknet netcheck "$cfg" 2>&1 | sed -n 's/.* \([0-9][0-9]*\) parameters.*/\1/p')
    report_args="$report_args $name=$BACKUP/$name.metrics.jsonl,$BACKUP/$name.valid.json,$parameters"
done

echo
# shellcheck disable=SC2086 # one argument a network
/usr/bin/python3 scripts/demo_report.py "$BACKUP/demo" $report_args
echo "demo: table $BACKUP/demo.md, chart $BACKUP/demo.png, numbers $BACKUP/demo.json," \
     "$(( $(date +%s) - start )) seconds in all"
