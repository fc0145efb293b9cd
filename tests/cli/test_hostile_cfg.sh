#!/bin/sh
# Hostile cfg and .data files: each mistake gives one error line naming the
# file, the section and the key, and exit status 1 (upstream crashed, hung,
# asserted or silently used a wrong value).
. "$(dirname "$0")/lib.sh"
D=$WORK
printf 'a\nb\n' > "$D/names.txt"
printf 'classes=2\nnames=%s/names.txt\n' "$D" > "$D/ok.data"
net='[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n'
small='[net]\nbatch=1\nwidth=2\nheight=2\nchannels=3\n'
conv='[convolutional]\nfilters=2\nsize=3\npad=1\n'

# cfg NAME CONTENT: writes $D/NAME.cfg
cfg() { printf "$2" > "$D/$1.cfg"; }
# bad NAME MESSAGE: the cfg NAME is refused with MESSAGE
bad() { expect_error "$1" "$2" ./darknet classifier predict "$D/ok.data" "$D/$1.cfg"; }

cfg filters_zero "$net[convolutional]\nfilters=0\nsize=3\n"
bad filters_zero "$D/filters_zero.cfg: section 0 [convolutional]: filters=0: must be at least 1"
cfg size_negative "$net$conv[maxpool]\nsize=-2\nstride=2\n"
bad size_negative "$D/size_negative.cfg: section 1 [maxpool]: size=-2: must be between 1 and 65536"
cfg stride_zero "$net[convolutional]\nfilters=2\nsize=3\nstride=0\n"
bad stride_zero "section 0 [convolutional]: stride=0: must be between 1 and 65536"
cfg trailing_garbage "$net[convolutional]\nfilters=16x\nsize=3\n"
bad trailing_garbage "section 0 [convolutional]: filters=16x: not a whole number"
cfg float_garbage "$(printf "$net$conv" | sed 's/^batch=1/batch=1\nlearning_rate=0.1abc/')"
bad float_garbage "float_garbage.cfg: [net]: learning_rate=0.1abc: not a finite number"
cfg word_for_number "$net[convolutional]\nfilters=two\nsize=3\n"
bad word_for_number "section 0 [convolutional]: filters=two: not a whole number"
cfg conv_too_big "$small[convolutional]\nfilters=2\nsize=3\npad=0\n"
bad conv_too_big "section 0 [convolutional]: the 3x3 kernel (padding 0) is larger than the 2 x 2 input"
cfg maxpool_too_big "$small[maxpool]\nsize=4\nstride=1\npadding=0\n"
bad maxpool_too_big "section 0 [maxpool]: the 4x4 window (padding 0) is larger than the 2 x 2 input"
cfg route_out_of_range "$net$conv[route]\nlayers=5\n"
bad route_out_of_range "section 1 [route]: layers=5: 5 is not a layer before this one"
cfg route_negative "$net$conv[route]\nlayers=-3\n"
bad route_negative "section 1 [route]: layers=-3: -3 is not a layer before this one"
cfg route_missing "$net$conv[route]\n"
bad route_missing "section 1 [route]: layers=: missing"
cfg shortcut_out_of_range "$net$conv[shortcut]\nfrom=-4\n"
bad shortcut_out_of_range "section 1 [shortcut]: from=-4: -4 is not a layer before this one"
cfg shortcut_missing "$net$conv[shortcut]\nactivation=linear\n"
bad shortcut_missing "section 1 [shortcut]: from=: missing"
cfg shortcut_shape "$(printf "$net$conv[maxpool]\nsize=3\nstride=3\n[shortcut]\nfrom=0\n" | sed 's/^height=8/height=6/')"
bad shortcut_shape "section 2 [shortcut]: from=0: its 8 x 6 x 2 output cannot be added to the 3 x 2 x 2 input"
cfg batch_zero "$(printf "$net$conv" | sed 's/^batch=1/batch=0/')"
bad batch_zero "batch_zero.cfg: [net]: batch=0: must be at least 1"
cfg subdivisions_zero "$(printf "$net$conv" | sed 's/^batch=1/batch=1\nsubdivisions=0/')"
bad subdivisions_zero "subdivisions_zero.cfg: [net]: subdivisions=0: must be at least 1"
cfg batch_below_subdivisions "$(printf "$net$conv" | sed 's/^batch=1/batch=2\nsubdivisions=4/')"
bad batch_below_subdivisions "batch_below_subdivisions.cfg: [net]: batch=2: must be at least subdivisions=4"
cfg height_zero "$(printf "$net$conv" | sed 's/^height=8/height=0/')"
bad height_zero "height_zero.cfg: [net]: height=0: expected a positive number"
cfg width_negative "$(printf "$net$conv" | sed 's/^width=8/width=-8/')"
bad width_negative "width_negative.cfg: [net]: width=-8: expected a positive number"
cfg channels_zero "$(printf "$net$conv" | sed 's/^channels=3/channels=0/')"
bad channels_zero "channels_zero.cfg: [net]: channels=0: expected a positive number"
cfg inputs_zero "$(printf "$net$conv" | sed 's/^batch=1/batch=1\ninputs=0/')"
bad inputs_zero "inputs_zero.cfg: [net]: inputs=0: expected a positive number"
cfg height_missing "$(printf "$net$conv" | sed '/^height=8/d')"
bad height_missing "height_missing.cfg: [net]: height=: missing: the input needs width=, height= and channels= (or inputs=)"
cfg no_input_size '[net]\nbatch=1\n[connected]\noutput=2\n'
bad no_input_size "no_input_size.cfg: [net]: no input size: give width=, height= and channels= (or inputs=)"
cfg steps_scales "$(printf "$net$conv" | sed 's/^batch=1/batch=1\npolicy=steps\nsteps=10,20\nscales=.1/')"
bad steps_scales "steps_scales.cfg: [net]: scales=.1: has 1 values, steps= has 2"
cfg dropout_first "$net[dropout]\nprobability=.5\n"
bad dropout_first "section 0 [dropout]: a dropout layer cannot be the first layer"
cfg dropout_one "$net$conv[dropout]\nprobability=1\n"
bad dropout_one "section 1 [dropout]: probability=1: must be at least 0 and below 1"
cfg yolo_mask "$net[convolutional]\nfilters=21\nsize=1\n[yolo]\nclasses=2\nnum=3\nmask=0,1,7\n"
bad yolo_mask "section 1 [yolo]: mask=0,1,7: entries must be anchor indexes from 0 to num-1"
cfg yolo_inputs "$net[convolutional]\nfilters=20\nsize=1\n[yolo]\nclasses=2\nnum=3\n"
bad yolo_inputs "section 1 [yolo]: the layer expects 1344 inputs"
cfg yolo_anchors "$net[convolutional]\nfilters=7\nsize=1\n[yolo]\nclasses=2\nnum=1\nanchors=1,2,3,4\n"
bad yolo_anchors "section 1 [yolo]: anchors=1,2,3,4: 4 values, more than 2 per anchor box"
cfg huge "$(printf "$net$conv" | sed 's/^filters=2/filters=1000000000/')"
bad huge "section 0 [convolutional]: too large"
cfg stray_line "batch=1\n$net$conv"
bad stray_line "$D/stray_line.cfg: line 1: 'batch=1' comes before any [section]"
# A NUL byte at the start of a line used to make fgetl() read before its
# buffer; parsing goes on past it to the next mistake.
{ printf "$net" && printf '\000x=1\n' && printf '[convolutional]\nfilters=0\n'; } > "$D/nul_byte.cfg"
bad nul_byte "section 0 [convolutional]: filters=0: must be at least 1"

# Networks that cannot be trained are refused before the first step (the
# NaN guard used to stop them with "try a lower learning_rate").
cfg no_loss "$net$conv[avgpool]\n"
expect_error no_loss_layer "no_loss.cfg: the network has no layer that computes a loss" \
    ./darknet netcheck "$D/no_loss.cfg"
cfg one_value_bn "$net$conv[connected]\noutput=2\nbatch_normalize=1\n[softmax]\n"
expect_error batchnorm_one_value "one_value_bn.cfg: section 1 [connected] takes its batch-norm statistics over a single value" \
    ./darknet netcheck "$D/one_value_bn.cfg"
cfg two_values_bn "$(printf "$net$conv[connected]\noutput=2\nbatch_normalize=1\n[softmax]\n" | sed 's/^batch=1/batch=2/')"
check batchnorm_two_values_train ./darknet netcheck "$D/two_values_bn.cfg"
# inference needs neither: the same cfgs still predict
cfg one_value_predict "$net$conv[connected]\noutput=2\nbatch_normalize=1\n"
check cfg_without_loss_layer_parses ./darknet ops "$D/one_value_predict.cfg"

# .data files
cfg ok "$net$conv"
printf 'classes=2\nlabels=%s/names.txt\nbackup=%s\n' "$D" "$D" > "$D/notrain.data"
expect_error data_missing_train "$D/notrain.data: train=: missing, and its default data/train.list does not exist" \
    ./darknet classifier train "$D/notrain.data" "$D/ok.cfg"
printf 'classes=2\nlabels=%s/names.txt\nbackup=%s\ntrain=%s/nope.list\n' "$D" "$D" "$D" > "$D/nofile.data"
expect_error data_train_no_file "$D/nofile.data: train=$D/nope.list: no such file" \
    ./darknet classifier train "$D/nofile.data" "$D/ok.cfg"
: > "$D/empty.list"
printf 'classes=2\nlabels=%s/names.txt\nbackup=%s\ntrain=%s/empty.list\n' "$D" "$D" "$D" > "$D/emptylist.data"
expect_error data_train_empty "$D/emptylist.data: train=$D/empty.list: the list is empty" \
    ./darknet classifier train "$D/emptylist.data" "$D/ok.cfg"
printf 'classes=2x\nlabels=%s/names.txt\nbackup=%s\ntrain=%s/names.txt\n' "$D" "$D" "$D" > "$D/badclasses.data"
expect_error data_classes_garbage "$D/badclasses.data: classes=2x: not a whole number" \
    ./darknet classifier train "$D/badclasses.data" "$D/ok.cfg"
printf 'classes=0\nlabels=%s/names.txt\nbackup=%s\ntrain=%s/names.txt\n' "$D" "$D" "$D" > "$D/zeroclasses.data"
expect_error data_classes_zero "$D/zeroclasses.data: classes=0: must be at least 1" \
    ./darknet classifier train "$D/zeroclasses.data" "$D/ok.cfg"

# Upstream's cfgs still parse: a sample covering every layer type they use
# (all 52 of them take minutes, mostly initialising weights).
# The range readers of input/cfgopt.c in the two-stage layers: a key out of
# its range is refused with the range.
two_stage() {   # NAME SECTION KEY VALUE MESSAGE: KEY=VALUE set in the first [SECTION]
    awk -v sec="[$2]" -v key="$3" -v val="$4" '
        /^\[/ { here = ($0 == sec && !done); print; if (here) { print key "=" val; done = 1 }; next }
        here && index($0, key "=") == 1 { next }
        { print }' cfg/faster-rcnn-small-voc.cfg > "$D/$1.cfg"
    expect_error "$1" "$5" ./darknet netcheck "$D/$1.cfg"
}
two_stage rpn_nms_above_one rpn nms 1.5 "[rpn]: nms=1.5: must be in [0, 1]"
two_stage rpn_stride_zero rpn stride 0 "[rpn]: stride=0: must be at least 1"
two_stage roipool_size_65 roipool size 65 "[roipool]: size=65: must be in [1, 64]"
two_stage rcnn_no_classes rcnn classes 0 "[rcnn]: classes=0: must be at least 1"

bad_up=""
for f in tiny gru writing go rnn cifar yolov3-tiny resnet18 yolov2-tiny yolov1-tiny densenet201; do
    (cd build/darknet && "$ROOT/build/tests/parse_cfg" "cfg/$f.cfg") > "$WORK/up.out" 2>&1 \
        || bad_up="$bad_up $f"
done
[ -z "$bad_up" ] && pass upstream_cfgs_parse || fail upstream_cfgs_parse "$bad_up"
