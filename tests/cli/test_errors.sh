#!/bin/sh
# Fatal errors print one clear line and exit with status 1 (upstream aborted,
# or exited with status 0).
. "$(dirname "$0")/lib.sh"
D=$WORK
printf 'classes=2\nnames=%s/names.txt\n' "$D" > "$D/ok.data"
printf 'a\nb\n' > "$D/names.txt"
net='[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n'
printf "$net[convolutional]\nfilters=2\nsize=3\n[bogus]\nx=1\n" > "$D/unknown.cfg"
printf '[convolutional]\nfilters=2\n' > "$D/nonet.cfg"
conv='[convolutional]\nfilters=2\nsize=3\n'
printf "$net$conv" | sed 's/^batch=1/batch=1\noptimizer=nesterov/' > "$D/badopt.cfg"
printf "$net$conv" > "$D/ok.cfg"
printf "$net" > "$D/nolayers.cfg"
printf "$net$conv" | sed 's/^batch=1/batch=1\nseed=12x/' > "$D/badseed.cfg"
: > "$D/empty.cfg"

expect_error unknown_section "$D/unknown.cfg: section 1 [bogus]: unknown section type" \
    ./darknet classifier predict "$D/ok.data" "$D/unknown.cfg"
expect_error missing_cfg "couldn't open file: $D/missing.cfg" \
    ./darknet classifier predict "$D/ok.data" "$D/missing.cfg"
expect_error missing_weights "couldn't open file: $D/missing.weights" \
    ./darknet classifier predict "$D/ok.data" "$D/ok.cfg" "$D/missing.weights"
expect_error first_section_not_net "First section must be [net]" \
    ./darknet classifier predict "$D/ok.data" "$D/nonet.cfg"
expect_error empty_cfg "Config file has no sections" \
    ./darknet classifier predict "$D/ok.data" "$D/empty.cfg"
expect_error unknown_optimizer "[net]: optimizer=nesterov: expected one of: sgd adam csgd" \
    ./darknet classifier predict "$D/ok.data" "$D/badopt.cfg"
expect_error seed_trailing_garbage "[net]: seed=12x: not a whole number" \
    ./darknet classifier predict "$D/ok.data" "$D/badseed.cfg"
expect_error no_layers "the cfg has no layers after [net]" \
    ./darknet classifier predict "$D/ok.data" "$D/nolayers.cfg"
expect_error unknown_command "frobnicate: not a command" ./darknet frobnicate
expect_error no_command "usage:" ./darknet
