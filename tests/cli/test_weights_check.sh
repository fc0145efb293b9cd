#!/bin/sh
# Weights files that do not hold what the cfg reads (src/train/weights_check.c,
# patches/0040): a file that ends inside a layer is an error naming the file,
# the layer, its type, the array and the byte offsets; one that ends exactly
# between layers loads those layers and says so; bytes after the last layer
# give a warning.  A whole file loads silently and bit for bit.
# `darknet partial CFG WEIGHTS OUT N` loads WEIGHTS (none when "") and saves.
. "$(dirname "$0")/lib.sh"
D=$WORK

# Offsets (20-byte header of version 0.2):
#  0 [convolutional] bn, 3->2, 3x3: biases@20 scales@28 rolling_mean@36
#                    rolling_variance@44 weights(54)@52, ends at 268
#  1 [deconvolutional] 2->2, 2x2: biases@268 weights(16)@276, ends at 340
#  2 [batchnorm] 2 channels: scales@340 rolling_mean@348 rolling_variance@356
#  3 [maxpool] (no weights), 16x16 -> 8x8
#  4 [local] 2->2, 3x3 on 8x8 (6x6 out): biases(72)@364 weights(1296)@652
#  5 [connected] 72->3: biases@5836 weights(216)@5848, ends at 6712
#  6 [softmax]
cat > "$D/all.cfg" <<'EOF'
[net]
batch=1
width=8
height=8
channels=3

[convolutional]
batch_normalize=1
filters=2
size=3
pad=1

[deconvolutional]
filters=2
size=2
stride=2

[batchnorm]

[maxpool]
size=2
stride=2

[local]
filters=2
size=3
stride=1

[connected]
output=3

[softmax]
EOF
W=$D/all.weights
./darknet partial "$D/all.cfg" "" "$W" 10 > "$D/make.out" 2>&1
[ "$(stat -c %s "$W")" = 6712 ] && pass whole_file_size || fail whole_file_size "$(stat -c %s "$W") bytes"

load() {   # load NAME FILE: loads FILE into all.cfg and saves it as NAME.out.weights
    ./darknet partial "$D/all.cfg" "$2" "$D/$1.out.weights" 10
}
cut_at() {   # cut_at BYTES: the first BYTES of the whole file
    head -c "$1" "$W" > "$D/cut$1.weights"
    echo "$D/cut$1.weights"
}
inside() {   # inside NAME BYTES MESSAGE
    f=$(cut_at "$2")
    expect_error "$1" "$f: $3" load "$1" "$f"
}

inside conv_biases 24 "layer 0 [convolutional] needs 248 bytes from byte 20, but the file ends at byte 24, inside its biases (2 floats from byte 20)"
inside conv_scales 30 "layer 0 [convolutional] needs 248 bytes from byte 20, but the file ends at byte 30, inside its scales (2 floats from byte 28)"
inside conv_weights 100 "layer 0 [convolutional] needs 248 bytes from byte 20, but the file ends at byte 100, inside its weights (54 floats from byte 52)"
inside deconv_weights 300 "layer 1 [deconvolutional] needs 72 bytes from byte 268, but the file ends at byte 300, inside its weights (16 floats from byte 276)"
inside batchnorm_mean 350 "layer 2 [batchnorm] needs 24 bytes from byte 340, but the file ends at byte 350, inside its rolling_mean (2 floats from byte 348)"
inside local_weights 1000 "layer 4 [local] needs 5472 bytes from byte 364, but the file ends at byte 1000, inside its weights (1296 floats from byte 652)"
inside connected_weights 6000 "layer 5 [connected] needs 876 bytes from byte 5836, but the file ends at byte 6000, inside its weights (216 floats from byte 5848)"
inside connected_last_byte 6711 "layer 5 [connected] needs 876 bytes from byte 5836, but the file ends at byte 6711"
f=$(cut_at 16)
expect_error header_seen_cut "$f: too short for a weights file's header (20 bytes for version 0.2.0, the file has 16)" load header "$f"

# Ends between layers: those layers load, one line says so, exit 0.
between() {   # between NAME BYTES LOADED
    f=$(cut_at "$2")
    if load "$1" "$f" > "$D/$1.log" 2>&1 &&
       grep -qxF "loaded $3 of 7 layers from $f; the rest keep their initialisation" "$D/$1.log"; then
        pass "$1"
    else
        fail "$1" "$(tail -2 "$D/$1.log")"
    fi
}
between boundary_after_conv 268 1
between boundary_after_batchnorm 364 4
between boundary_after_local 5836 5
between boundary_header_only 20 0
# the layers read are the file's: saved again, the first 268 bytes are equal
cmp -s -n 268 "$W" "$D/boundary_after_conv.out.weights" && pass boundary_layers_loaded || fail boundary_layers_loaded

# A whole file: no message, and saved again it is the same file.
load whole "$W" > "$D/whole.log" 2>&1
if [ $? -eq 0 ] && ! grep -q "loaded .* of\|warning\|error" "$D/whole.log" && cmp -s "$W" "$D/whole.out.weights"; then
    pass whole_file_silent_identical
else
    fail whole_file_silent_identical "$(tail -2 "$D/whole.log")"
fi

# Bytes left over: a warning with the count.
{ cat "$W"; printf '0123456789'; } > "$D/long.weights"
load long "$D/long.weights" > "$D/long.log" 2>&1
if [ $? -eq 0 ] && grep -qF "warning: $D/long.weights: 10 bytes after the last layer were not read" "$D/long.log" &&
   cmp -s "$W" "$D/long.out.weights"; then
    pass trailing_bytes_warning
else
    fail trailing_bytes_warning "$(tail -2 "$D/long.log")"
fi

# Recurrent layers read sublayers; the message names the one the file ends in.
printf '[net]\nbatch=1\ninputs=5\ntime_steps=1\n[gru]\noutput=4\n[softmax]\n' > "$D/gru.cfg"
printf '[net]\nbatch=1\ninputs=5\ntime_steps=1\n[rnn]\noutput=4\n[softmax]\n' > "$D/rnn.cfg"
printf '[net]\nbatch=1\ninputs=5\ntime_steps=1\n[lstm]\noutput=4\n[softmax]\n' > "$D/lstm.cfg"
printf '[net]\nbatch=1\nwidth=4\nheight=4\nchannels=2\n[crnn]\noutput_filters=2\nhidden_filters=3\n[softmax]\n' > "$D/crnn.cfg"
for t in gru rnn lstm crnn; do
    ./darknet partial "$D/$t.cfg" "" "$D/$t.weights" 10 > /dev/null 2>&1
done
recurrent() {   # recurrent NAME TYPE BYTES MESSAGE
    head -c "$3" "$D/$2.weights" > "$D/$1.weights"
    expect_error "$1" "$D/$1.weights: $4" ./darknet partial "$D/$2.cfg" "$D/$1.weights" "$D/$1.out" 10
}
# gru: wz wr wh (4->4: 4+16 floats) then uz ur uh (5->4: 4+20 floats)
recurrent gru_uz_biases gru 274 "layer 0 [gru] needs 528 bytes from byte 20, but the file ends at byte 274, inside its uz biases (4 floats from byte 260)"
# rnn: input_layer (5->4: 24 floats), self_layer (4->4), output_layer (4->4)
recurrent rnn_self_weights rnn 138 "layer 0 [rnn] needs 256 bytes from byte 20, but the file ends at byte 138, inside its self_layer weights (16 floats from byte 132)"
recurrent lstm_last_byte lstm 723 "layer 0 [lstm] needs 704 bytes from byte 20, but the file ends at byte 723, inside its ug weights"
recurrent crnn_self_weights crnn 404 "layer 0 [crnn] needs 788 bytes from byte 20, but the file ends at byte 404, inside its self_layer weights (81 floats from byte 260)"
whole_recurrent=""
for t in gru rnn lstm crnn; do
    ./darknet partial "$D/$t.cfg" "$D/$t.weights" "$D/$t.again" 10 > "$D/$t.log" 2>&1 &&
        cmp -s "$D/$t.weights" "$D/$t.again" && ! grep -q warning "$D/$t.log" || whole_recurrent="$whole_recurrent $t"
done
[ -z "$whole_recurrent" ] && pass recurrent_whole_files_load || fail recurrent_whole_files_load "$whole_recurrent"

# [gcconv] layers check their own arrays; a file ending before one is partial.
cat > "$D/gc.cfg" <<'EOF'
[net]
batch=1
width=6
height=6
channels=3

[convolutional]
filters=4
size=3
pad=1

[gcconv]
branches=2
filters=2
size=3
pad=1

[avgpool]
[softmax]
EOF
./darknet partial "$D/gc.cfg" "" "$D/gc.weights" 10 > /dev/null 2>&1
# [convolutional] 3->4, 3x3: 4 + 108 floats, from byte 20 to 468
head -c 468 "$D/gc.weights" > "$D/gc468.weights"
./darknet partial "$D/gc.cfg" "$D/gc468.weights" "$D/gc.out" 10 > "$D/gc468.log" 2>&1 &&
    grep -qxF "loaded 1 of 4 layers from $D/gc468.weights; the rest keep their initialisation" "$D/gc468.log" \
    && pass gcconv_boundary || fail gcconv_boundary "$(tail -2 "$D/gc468.log")"
head -c 480 "$D/gc.weights" > "$D/gc480.weights"
expect_error gcconv_inside "$D/gc480.weights: layer 1 [gcconv]: biases needs 4 floats from byte 468" \
    ./darknet partial "$D/gc.cfg" "$D/gc480.weights" "$D/gc.out" 10

# Written for another cfg (a wider [connected]): the file ends inside layer 5
# for this cfg, and the .state written beside it names the array that differs.
sed 's/^output=3/output=4/' "$D/all.cfg" > "$D/wider.cfg"
./darknet partial "$D/wider.cfg" "$W" "$D/wider.out" 10 > "$D/wider.log" 2>&1
status=$?
if [ "$status" -eq 1 ] &&
   grep -qF "$W: layer 5 [connected] needs 1168 bytes from byte 5836, but the file ends at byte 6712" "$D/wider.log" &&
   grep -qF "$W.state: layer 5: weight_updates has 216 values, the cfg 288" "$D/wider.log"; then
    pass another_cfg_named_by_state
else
    fail another_cfg_named_by_state "status $status: $(tail -2 "$D/wider.log")"
fi
