#!/bin/sh
# Every shipped cfg parses and trains one step (forward, backward, update) on
# random data, at batch 2 and, where the full size is slow on a CPU, a
# smaller input.  The paper-scale two-stage cfgs are parsed at their full
# 800x600 only: their step is mostly the per-region head, whatever the
# input size (several minutes on the portable kernels), and
# tests/unit/test_det_cfgs.c trains each of them a step at 128x128.  Cfgs with [gcconv] are skipped (SKIP lines, counted neither
# way) while ./darknet does not know that section.  Also: the cfgs are what
# scripts/gen_cfgs.py writes, each CCNN has a plain twin of the same shape,
# the plain WRNs have the parameter counts of the paper's Table 2, and the
# twins of mnist-small-k2 match its parameters and its multiply-adds.
. "$(dirname "$0")/lib.sh"

check cfgs_up_to_date /usr/bin/python3 scripts/gen_cfgs.py --check

printf '[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n[gcconv]\nfilters=2\nsize=3\npad=1\nbranches=2\n[connected]\noutput=2\n[softmax]\n' > "$WORK/probe.cfg"
./darknet netcheck "$WORK/probe.cfg" > "$WORK/probe.out" 2>&1
if grep -q 'unknown section type' "$WORK/probe.out"; then gcconv=0; else gcconv=1; fi
echo "[gcconv] known to ./darknet: $gcconv"

# The input size used for the check: CPU-friendly, each network still valid.
size_for() {
    case "$1" in
        *-cifar*) echo 16 ;;
        resnet18-imagenet*) echo 64 ;;
        alexnet-imagenet*) echo 99 ;;
        *) echo "" ;;
    esac
}

train_step() {
    net=$(basename "$1" .cfg)   # not "name": check() sets that
    if grep -q '^\[gcconv\]' "$1" && [ "$gcconv" = 0 ]; then
        echo "SKIP cfg_$net ([gcconv] is not in this build)"
        return
    fi
    s=$(size_for "$net")
    steps=1
    case "$net" in faster-rcnn-alexnet-voc*|faster-rcnn-resnet18-voc*) steps=0 ;; esac
    sed -e 's/^batch=.*/batch=2/; s/^subdivisions=.*/subdivisions=1/' \
        ${s:+-e "s/^width=.*/width=$s/" -e "s/^height=.*/height=$s/"} "$1" > "$WORK/$net.cfg"
    check "cfg_$net" ./darknet netcheck "$WORK/$net.cfg" -steps $steps
    [ "$steps" = 0 ] || grep -q 'step 1: loss [0-9]' "$WORK/cfg_$net.out" \
        || fail "cfg_${net}_loss" "$(tail -2 "$WORK/cfg_$net.out")"
}
ours=""
for cfg in cfg/*.cfg; do
    [ -L "$cfg" ] || ours="$ours $cfg"   # links are upstream's (test_upstream_cfgs.sh)
done
in_lanes train_step $ours

# Twins: the CCNN's sections and filters, with [gcconv] read as
# [convolutional], the gcconv-only keys dropped and a [gcmerge] head (the
# CCNN's mean over branches) left out, are the plain cfg's.
shape() {
    awk '/^\[/ { merge = ($0 == "[gcmerge]") } !merge' "$1" \
        | grep -vE '^(#|branches=|expand=|mixing=|r_init=|calib_rate=|optimizer=|sigma=|noise=|noise_gamma=|$)' \
        | sed 's/^\[gcconv\]$/[convolutional]/'
}
for cfg in cfg/*-k[0-9]*.cfg; do
    name=$(basename "$cfg" .cfg)
    twin=cfg/${name%-k[0-9]*}.cfg
    if [ ! -f "$twin" ]; then fail "twin_$name" "no $twin"; continue; fi
    shape "$cfg" > "$WORK/a" && shape "$twin" > "$WORK/b"
    k=${name##*-k}
    if cmp -s "$WORK/a" "$WORK/b" \
        && [ "$(grep -c '^\[gcconv\]' "$cfg")" -eq "$(($(grep -c '^\[convolutional\]' "$twin") - $(grep -c '^\[convolutional\]' "$cfg")))" ] \
        && ! grep '^branches=' "$cfg" | grep -qv "^branches=$k\$"; then
        pass "twin_$name"
    else
        fail "twin_$name" "$(diff "$WORK/a" "$WORK/b" | head -4)"
    fi
done

# Parameter counts, within 1%: WRN-40-4 8.9M (paper Table 2); CCNN3-28,
# 17.6M, is three times WRN-28-4; ResNet-18 for ImageNet 11.69M.
params() { sed -n 's/.* \([0-9]*\) parameters.*/\1/p' "$WORK/cfg_$1.out"; }
near() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > 0 && (a - b) / b < 0.01 && (b - a) / b < 0.01) }'; }
p=$(params wrn-40-4-cifar)
near "${p:-0}" 8900000 && pass wrn40_4_parameters || fail wrn40_4_parameters "$p"
p=$(params wrn-28-4-cifar)
near "$((3 * ${p:-0}))" 17600000 && pass wrn28_4_times_3_parameters || fail wrn28_4_times_3_parameters "$p"
p=$(params resnet18-imagenet)
near "${p:-0}" 11690000 && pass resnet18_imagenet_parameters || fail resnet18_imagenet_parameters "$p"

# The matched twins of mnist-small-k2 (scripts/gen_cfgs.py): as netcheck
# counts them, the same trained parameters within 2 % and the same forward
# multiply-adds within 5 %.
count() { sed -n "s/.* \([0-9]*\) $2.*/\1/p" "$WORK/cfg_$1.out"; }
within() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { exit !(a > 0 && b > 0 && (a - b) / b <= r && (b - a) / b <= r) }'; }
within "$(count mnist-small-params parameters)" "$(count mnist-small-k2 parameters)" 0.02 \
    && pass twin_params_matched || fail twin_params_matched "$(count mnist-small-params parameters) against $(count mnist-small-k2 parameters)"
within "$(count mnist-small-flops multiply-adds)" "$(count mnist-small-k2 multiply-adds)" 0.05 \
    && pass twin_flops_matched || fail twin_flops_matched "$(count mnist-small-flops multiply-adds) against $(count mnist-small-k2 multiply-adds)"
