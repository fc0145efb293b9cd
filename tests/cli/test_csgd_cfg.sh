#!/bin/sh
# The optimizer keys of [net]: every invalid value stops the parse with
# exit status 1 and a message naming [net], the key and the value; valid
# ones parse.
cd "$(dirname "$0")/../.." || exit 1
DN=$PWD/darknet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cfg() {
    printf '[net]\nbatch=1\nheight=8\nwidth=8\nchannels=3\n%b\n\n' "$1"
    printf '[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=leaky\n'
}

# $1 test name, $2 [net] lines, $3 text the error must hold
rejects() {
    cfg "$2" > "$work/bad.cfg"
    "$DN" ops "$work/bad.cfg" > "$work/out" 2> "$work/err"
    status=$?
    if [ "$status" -eq 1 ] && grep -qF -- "$3" "$work/err"; then
        echo "PASS $1"
    else
        echo "FAIL $1 (status $status; wanted '$3' in:)"; cat "$work/err"
    fi
}

accepts() {
    cfg "$2" > "$work/good.cfg"
    if "$DN" ops "$work/good.cfg" > "$work/out" 2> "$work/err"; then
        echo "PASS $1"
    else
        echo "FAIL $1"; cat "$work/err"
    fi
}

rejects cfg_unknown_optimizer 'optimizer=rmsprop' '[net]: optimizer=rmsprop: expected one of: sgd adam csgd'
rejects cfg_negative_sigma 'optimizer=csgd\nsigma=-0.1' '[net]: sigma=-0.1: must be >= 0'
rejects cfg_sigma_not_a_number 'optimizer=csgd\nsigma=small' '[net]: sigma=small: not a finite number'
rejects cfg_unknown_noise 'optimizer=csgd\nnoise=both' '[net]: noise=both: expected one of: weight gradient'
rejects cfg_negative_noise_gamma 'optimizer=csgd\nnoise_gamma=-1' '[net]: noise_gamma=-1: must be >= 0'
rejects cfg_seed_not_whole 'seed=1.5' '[net]: seed=1.5: not a whole number'
rejects cfg_negative_seed 'seed=-3' '[net]: seed=-3: must be a whole number >= 0'
rejects cfg_adam_flag_with_csgd 'adam=1\noptimizer=csgd' '[net]: optimizer=csgd: conflicts with adam=1'
rejects cfg_winograd_not_a_flag 'winograd=2' '[net]: winograd=2: must be 0 or 1'
accepts cfg_winograd 'winograd=1'
accepts cfg_csgd_gradient 'optimizer=csgd\nsigma=0\nnoise=gradient\nnoise_gamma=0\nseed=0'
accepts cfg_adam_flag 'adam=1'
accepts cfg_adam_both_ways 'adam=1\noptimizer=adam'
accepts cfg_sgd_default ''
