#!/bin/sh
# A second runtime for the models ./darknet export onnx writes: npm's
# onnxruntime-web (its WebAssembly backend, one thread) in Node.js
# (tests/node/run_onnx.mjs), on the files test_onnx_export.sh gives OpenCV:
# cifar_small and mnist-small-k2, each trained a few seeded steps, run on
# real images.
#
# The comparison rule is test_onnx_export.sh's: each layer of the model cut
# out (tests/tools/onnx_run.py split) and run alone by onnxruntime-web on
# Darknet's outputs of the layers it reads, and its largest difference
# from Darknet's output held to the rounding bound derived for that layer
# (tests/unit/helpers/rounding.c, via tests/tools/compare_layers --common);
# the network's output layer is one of them.  The whole network is run too
# and its largest output difference printed: end to end no bound is
# derived.
#
# A wrong model fails it: with the first weight of cifar_small's first
# Conv made 1% larger in the .onnx file (onnx_run.py mutate weight), layer 0
# fails by 30 times its bound (first seen by hand; the end of this file
# makes the same fault on every run).  Correct models: worst ratios of
# difference to bound 0.024 (cifar_small) and 0.009 (mnist); the whole
# networks' softmax outputs differ by 0 and 2.4e-17.  About 14 s on two
# loaded cores.
#
# onnxruntime-web comes from build/npm, where make deps installs the
# version tests/node/package-lock.json pins; onnxruntime-node is not used:
# its install script downloads a native library.  Without Node.js or the
# package the checks are skipped, saying so.
. "$(dirname "$0")/lib.sh"

ORT_WEB=${ORT_WEB:-$ROOT/build/npm/node_modules/onnxruntime-web}
if ! command -v node > /dev/null 2>&1; then
    echo "skipped: Node.js is not installed (no node)"
    pass onnx_node_skipped_no_node
    exit 0
fi
if [ ! -f "$ORT_WEB/dist/ort.node.min.mjs" ]; then
    echo "skipped: onnxruntime-web is not installed in $ORT_WEB ('make deps' installs it with npm)"
    pass onnx_node_skipped_no_onnxruntime_web
    exit 0
fi
export ORT_WEB
. "$(dirname "$0")/onnxlib.sh"
NODE="node tests/node/run_onnx.mjs"

# node_layers NAME MODEL: onnxruntime-web runs MODEL's layers alone, into $WORK/NAME.node.bin
node_layers() {
    rm -rf "$WORK/$1.parts" && mkdir -p "$WORK/$1.parts" &&
        $RUN split "$2" "$WORK/$1.parts" > /dev/null 2>&1 &&
        $NODE feed "$WORK/$1.parts" "$WORK/$1.in.bin" "$WORK/$1.ref.bin" "$WORK/$1.node.bin" > "$WORK/$1.feed.out" 2>&1
}

# export_and_run NAME IMAGES...
export_and_run() {
    n=$1; shift
    check "export_$n" ./darknet export onnx "$WORK/$n.cfg" "$WORK/$n.weights" "$WORK/$n.onnx"
    build/tests/dump_images "$WORK/$n.cfg" "$WORK/$n.weights" "$WORK/$n.ref.bin" "$WORK/$n.in.bin" "$@" > /dev/null 2>&1
    if node_layers "$n" "$WORK/$n.onnx"; then pass "${n}_onnxruntime_web_runs_layers"
    else fail "${n}_onnxruntime_web_runs_layers" "$(tail -3 "$WORK/$n.feed.out")"; fi
    compare "$n" "$WORK/$n.node.bin" "$n.compare"
    status=$?
    [ $status -eq 0 ] && pass "${n}_onnxruntime_web_equals_darknet" || fail "${n}_onnxruntime_web_equals_darknet" "status $status"
    grep -E '^(worst|compare_layers|layer .*OVER)' "$WORK/$n.compare.out" | sed "s/^/${n}_onnxruntime_web_equals_darknet: /"
    # the whole network end to end, for the record
    if $NODE whole "$WORK/$n.onnx" "$WORK/$n.in.bin" "$WORK/$n.whole.bin" > "$WORK/$n.whole.out" 2>&1; then
        pass "${n}_onnxruntime_web_runs_whole"
    else fail "${n}_onnxruntime_web_runs_whole" "$(tail -3 "$WORK/$n.whole.out")"; return; fi
    $RUN record "$WORK/$n.ref.bin" "$WORK/$n.whole.bin" "$n" "onnxruntime-web"
}

train_classifier cifar_small cfg/cifar_small.cfg 20
export_and_run cifar_small $IMAGES
train_classifier mnist cfg/mnist-small-k2.cfg 40
export_and_run mnist $IMAGES
# The activations ONNX has no single operator for, composed
# (src/deploy/onnx_layers.c): ramp, loggy, lhtan and plse, and hardtan's
# Clip, which OpenCV 4.6 does not import with its bounds as inputs (opset
# 11 and later), so onnxruntime checks them, on initialised weights.  The
# outer pieces of lhtan and plse are reached: with either outer slope
# doubled in onnx_layers.c the layer fails by about 1000 times its bound
# (checked by hand).
printf '[net]\nwidth=16\nheight=16\nchannels=3\n
[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=ramp\n
[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=loggy\n
[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=lhtan\n
[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=plse\n
[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=hardtan\n' > "$WORK/activations.cfg"
build/tests/init_weights "$WORK/activations.cfg" "$WORK/activations.weights" > /dev/null 2>&1
export_and_run activations $(echo $IMAGES | cut -d' ' -f1-2)

# ---- a wrong model fails the comparison ----------------------------------------
# One weight of the first Conv changed by 1% (onnx_run.py mutate "weight").
cp "$WORK/cifar_small.in.bin" "$WORK/wrong-weight.in.bin"
cp "$WORK/cifar_small.ref.bin" "$WORK/wrong-weight.ref.bin"
$RUN mutate "$WORK/cifar_small.onnx" "$WORK/wrong-weight.onnx" weight &&
    node_layers wrong-weight "$WORK/wrong-weight.onnx"
build/tests/compare_layers "$WORK/cifar_small.cfg" "$WORK/cifar_small.weights" "$WORK/cifar_small.ref.bin" \
    "$WORK/cifar_small.in.bin" "$WORK/wrong-weight.node.bin" --common > "$WORK/wrong-weight.out" 2>&1
status=$?
[ $status -eq 1 ] && pass wrong_weight_detected || fail wrong_weight_detected "status $status: $(tail -1 "$WORK/wrong-weight.out")"
tail -1 "$WORK/wrong-weight.out" | sed "s/^/wrong_weight_detected: /"
