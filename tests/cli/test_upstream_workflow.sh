#!/bin/sh
# Darknet's documented commands, typed as its documentation writes them,
# from the repository root after `make`: upstream's cfgs, .data files,
# names, label alphabet and sample images are at their upstream paths
# (links made by scripts/link-upstream.sh), no window is opened without a
# display, and a network whose detection outputs are not finite gives a
# warning instead of a crash.  Weights the documentation downloads are
# made here (freshly initialised) when they are not at the root already,
# and removed afterwards; so are predictions.jpg and the files put in data/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
unset DISPLAY WAYLAND_DISPLAY
made=""
trap cleanup EXIT
# make_weights CFG FILE [SCALE]: FILE at the root, unless the user has one.
# Scale 0 gives finite outputs: freshly initialised batch-norm statistics
# (variance 0) blow up any other input.  Biases of -10 make the detector
# find nothing, which keeps valid and recall fast.
make_weights() {
    if [ ! -e "$2" ]; then build/tests/init_weights "$1" "$2" ${3:-} ${4:-} > /dev/null 2>&1; made="$made $2"; fi
}
if [ -e predictions.jpg ]; then cp -p predictions.jpg "$WORK/predictions.jpg.kept"; fi
made="$made predictions.jpg"
cleanup() {
    for f in $made; do rm -rf $f; done
    if [ -e "$WORK/predictions.jpg.kept" ]; then cp -p "$WORK/predictions.jpg.kept" predictions.jpg; fi
}
# run_until PATTERN SECONDS OUT COMMAND...: runs COMMAND (output to OUT)
# until a line matches PATTERN, then stops it; at most SECONDS.  (TERM: a
# command started with & in a script ignores INT.)
run_until() {
    pattern=$1 limit=$2 out=$3
    shift 3
    "$@" > "$out" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt $((limit * 5)) ] && kill -0 $pid 2>/dev/null && ! grep -qE "$pattern" "$out"; do
        sleep 0.2
        i=$((i + 1))
    done
    kill -TERM $pid 2>/dev/null
    wait $pid 2>/dev/null
}

# ---- the paths: upstream's files beside ours, ours winning a clash
for f in cfg/yolov3-tiny.cfg cfg/coco.data cfg/imagenet1k.data cfg/tiny.cfg cfg/darknet19.cfg data/dog.jpg \
         data/coco.names data/imagenet.shortnames.list data/labels/65_0.png; do
    [ -e "$f" ] || missing="${missing:-} $f"
done
[ -z "${missing:-}" ] && pass upstream_paths_reachable || fail upstream_paths_reachable "missing:$missing"
[ -L cfg/yolov3-tiny.cfg ] && [ ! -L cfg/yolov3-voc.cfg ] && [ -f cfg/yolov3-voc.cfg ] \
    && pass ours_win_name_clash || fail ours_win_name_clash
[ -z "$(git status --porcelain cfg data 2>/dev/null)" ] && pass links_not_tracked \
    || fail links_not_tracked "$(git status --porcelain cfg data | head -3)"

# ---- detect and detector test: boxes drawn, predictions.jpg saved, no window
make_weights cfg/yolov3-tiny.cfg yolov3-tiny.weights 0 -10
rm -f predictions.jpg
check detect ./darknet detect cfg/yolov3-tiny.cfg yolov3-tiny.weights data/dog.jpg
grep -q '^data/dog.jpg: Predicted in' "$WORK/detect.out" && [ "$(od -An -tx1 -N3 predictions.jpg | tr -d ' ')" = ffd8ff ] \
    && pass detect_saves_predictions || fail detect_saves_predictions
grep -q 'Cannot load image' "$WORK/detect.out" && fail alphabet_found "$(grep -m1 'Cannot load' "$WORK/detect.out")" \
    || pass alphabet_found
grep -q 'warning: layer' "$WORK/detect.out" && fail finite_outputs_no_warning || pass finite_outputs_no_warning
rm -f predictions.jpg
check detector_test ./darknet detector test cfg/coco.data cfg/yolov3-tiny.cfg yolov3-tiny.weights data/dog.jpg
[ -s predictions.jpg ] && grep -q 'Predicted in' "$WORK/detector_test.out" && pass detector_test_saves \
    || fail detector_test_saves

# An untrained network (batch-norm statistics still zero) overflows to NaN:
# this crashed upstream's box filling; now one warning per [yolo] layer.
build/tests/init_weights cfg/yolov3-tiny.cfg "$WORK/untrained.weights" > /dev/null 2>&1
check nan_detect ./darknet detector test cfg/coco.data cfg/yolov3-tiny.cfg "$WORK/untrained.weights" data/dog.jpg
w=$(grep -c '^warning: layer \(16\|23\) \[yolo\]: [0-9]* of [0-9]* outputs are not finite' "$WORK/nan_detect.out")
[ "$w" -eq 2 ] && pass nan_outputs_warned_once_per_layer || fail nan_outputs_warned_once_per_layer "$w warnings"

# ---- classify and classifier predict: the top-5 lines
make_weights cfg/tiny.cfg tiny.weights 0
check classify ./darknet classify cfg/tiny.cfg tiny.weights data/dog.jpg
[ "$(grep -cE '^ *[0-9.]+%: ' "$WORK/classify.out")" -eq 5 ] && pass classify_top5 \
    || fail classify_top5 "$(tail -3 "$WORK/classify.out")"
make_weights cfg/darknet19.cfg darknet19.weights 0
check classifier_predict ./darknet classifier predict cfg/imagenet1k.data cfg/darknet19.cfg darknet19.weights data/dog.jpg
[ "$(grep -cE '^ *[0-9.]+%: ' "$WORK/classifier_predict.out")" -eq 5 ] && pass classifier_predict_top5 \
    || fail classifier_predict_top5 "$(tail -3 "$WORK/classifier_predict.out")"

# ---- detector train, valid, recall.  The documentation's voc.data names
# pjreddie's own folders: a clear error.  Then the same commands on a small
# synthetic set whose .data file the test writes, as the documentation
# tells users to.
expect_error train_doc_data "/home/pjreddie/data/voc/train.txt" \
    ./darknet detector train cfg/voc.data cfg/yolov3-voc.cfg darknet53.conv.74
voc_shapes
convert_to "$WORK/voc"
head -n 6 "$WORK/voc/2007_test.txt" > "$WORK/six.txt"
list=$WORK/six.txt
printf 'classes=80\ntrain=%s\nvalid=%s\nnames=data/coco.names\nbackup=%s\n' "$list" "$list" "$WORK" > "$WORK/coco.data"
run_until '^3: ' 120 "$WORK/train.out" ./darknet detector train "$WORK/coco.data" cfg/yolov3-tiny.cfg
grep -qE '^1: [0-9.]+, [0-9.]+ avg, .* img/s, ETA ' "$WORK/train.out" && pass detector_train_upstream_cfg \
    || fail detector_train_upstream_cfg "$(tail -3 "$WORK/train.out")"
[ -d results ] && [ -d backup ] && pass results_and_backup_folders || fail results_and_backup_folders
[ -e results/comp4_det_test_person.txt ] || made="$made results/comp4_det_test_*.txt"
check detector_valid ./darknet detector valid "$WORK/coco.data" cfg/yolov3-tiny.cfg yolov3-tiny.weights
[ -e results/comp4_det_test_person.txt ] && pass detector_valid_writes_results || fail detector_valid_writes_results
if [ ! -e data/coco_val_5k.list ]; then
    cp "$list" data/coco_val_5k.list
    made="$made data/coco_val_5k.list"
fi
check detector_recall ./darknet detector recall cfg/coco.data cfg/yolov3-tiny.cfg yolov3-tiny.weights
grep -qE 'RPs/Img: .*Recall:' "$WORK/detector_recall.out" && pass detector_recall_lines \
    || fail detector_recall_lines "$(tail -2 "$WORK/detector_recall.out")"

# ---- classifier train and valid with upstream's cfg/cifar.cfg on a tiny
# CIFAR-10 (the documentation's cfg/cifar.data is the user's own file).
/usr/bin/python3 tests/tools/cifar_sample.py write10 "$WORK/cifar.tar.gz"
/usr/bin/python3 scripts/cifar.py "$WORK/cifar.tar.gz" "$WORK/cifar" > /dev/null 2>&1
sed "s#^backup=.*#backup=$WORK#" "$WORK/cifar/cifar10.data" > "$WORK/cifar.data"
run_until '^2, ' 120 "$WORK/ctrain.out" ./darknet classifier train "$WORK/cifar.data" cfg/cifar.cfg
grep -qE '^1, [0-9.]+: [0-9.]+, [0-9.]+ avg, .* img/s, ETA ' "$WORK/ctrain.out" && pass classifier_train_upstream_cfg \
    || fail classifier_train_upstream_cfg "$(tail -3 "$WORK/ctrain.out")"
build/tests/init_weights cfg/cifar.cfg "$WORK/cifar.weights" > /dev/null 2>&1
check classifier_valid ./darknet classifier valid "$WORK/cifar.data" cfg/cifar.cfg "$WORK/cifar.weights"
grep -q '^summary: 4 images' "$WORK/classifier_valid.out" && pass classifier_valid_summary \
    || fail classifier_valid_summary "$(grep summary "$WORK/classifier_valid.out")"

# ---- `make` without OpenCV's headers says what installs them
PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= make -s check-opencv > "$WORK/no_opencv.out" 2>&1 \
    && fail make_names_make_deps "check-opencv passed without opencv4" \
    || { grep -q "run 'make deps'" "$WORK/no_opencv.out" && pass make_names_make_deps \
         || fail make_names_make_deps "$(cat "$WORK/no_opencv.out")"; }
