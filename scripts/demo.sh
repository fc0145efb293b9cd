#!/bin/sh
# The main job: convert Fashion-MNIST (Debian's dataset-fashion-mnist) into
# the classifier layout, train a small CCNN on it while validating every 0.1
# epoch on 2000 test images, then evaluate the final weights on all 10000.
# A few minutes on two CPU cores.  CFG=path picks another cfg.
set -eu
cd "$(dirname "$0")/.."
start=$(date +%s)
OUT=data/generated/fashion-mnist
/usr/bin/python3 scripts/fashion_mnist.py "$OUT"

if [ -z "${CFG:-}" ]; then
    probe=$(mktemp)
    printf '[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n[gcconv]\nfilters=2\nsize=3\npad=1\nbranches=2\n[connected]\noutput=2\n[softmax]\n' > "$probe"
    if ./darknet netcheck "$probe" 2>&1 | grep -q 'unknown section type'; then
        CFG=cfg/mnist-small.cfg
        echo "demo: this build has no [gcconv] layer; training the plain twin $CFG"
    else
        CFG=cfg/mnist-small-k2.cfg
    fi
    rm -f "$probe"
fi
NAME=$(basename "$CFG" .cfg)

# Validation during training uses the first 2000 test images, to keep it quick.
head -n 2000 "$OUT/valid.list" > "$OUT/valid-2000.list"
sed "s#^valid=.*#valid=$(pwd)/$OUT/valid-2000.list#" "$OUT/fashion-mnist.data" > "$OUT/demo.data"

echo "demo: training $CFG on $OUT (weights and chart in $OUT/backup)"
./darknet classifier train "$OUT/demo.data" "$CFG" -valid_every 0.1 -dont_show 2>/dev/null | grep -v '^Loaded: '
echo "demo: validating $OUT/backup/$NAME.weights on all test images"
./darknet classifier valid "$OUT/fashion-mnist.data" "$CFG" "$OUT/backup/$NAME.weights" \
    -quiet -json "$OUT/backup/$NAME.valid.json" 2>/dev/null
echo "demo: chart $OUT/backup/${NAME}_chart.png, report $OUT/backup/$NAME.valid.json," \
     "$(( $(date +%s) - start )) seconds in all"
