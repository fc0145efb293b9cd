#!/bin/sh
# Weights files are written whole or not at all.  A kill -9 during saves
# leaves whole files; a full disk, a missing folder or a folder that takes
# no files is an error naming the file, and the file already there stays.
# Training that diverges stops, naming the iteration and the layer, before
# anything non-finite reaches a weights file.
. "$(dirname "$0")/lib.sh"
D=$WORK
# Four-megabyte weights, so that most of a run is spent saving.
printf '[net]\ninputs=1000\nbatch=4\nlearning_rate=0.001\n[connected]\noutput=1000\nactivation=leaky\n[connected]\noutput=10\nactivation=linear\n[softmax]\n' > "$D/big.cfg"

# ---- kill -9 at random moments during saves ------------------------------
mkdir -p "$D/kill"
round=0
while [ $round -lt 15 ]; do
    build/tests/save_loop "$D/big.cfg" 0 "$D/kill/a.weights" "$D/kill/b.weights" > "$D/loop.out" 2>&1 &
    pid=$!
    sleep "$(awk -v s=$round 'BEGIN { srand(s + 1); printf "%.3f", 0.6 + rand() * 0.8 }')"
    kill -9 $pid
    wait $pid 2>/dev/null
    round=$((round + 1))
done
ls "$D"/kill/*.weights > "$D/left.txt" 2>/dev/null
if [ "$(wc -l < "$D/left.txt")" -eq 2 ]; then pass kill_leaves_weights; else fail kill_leaves_weights "$(cat "$D/left.txt")"; fi
# A temporary file left behind shows that a kill landed in the middle of a save.
temps=$(ls "$D/kill" | grep -c '\.weights\.\(state\.\)\{0,1\}[A-Za-z0-9]\{6\}$')
if [ "$temps" -ge 1 ]; then pass kill_landed_during_saves; else fail kill_landed_during_saves "no temporary file left: no kill hit a save"; fi
echo "kills that landed during a save: $temps of 15"
check kill_files_load build/tests/check_weights "$D/big.cfg" "$D"/kill/*.weights

# ---- write errors ---------------------------------------------------------
expect_error dev_full "cannot save /dev/full: No space left on device" \
    build/tests/save_loop "$D/big.cfg" 1 /dev/full
mkdir -p "$D/full"
check first_save build/tests/save_loop "$D/big.cfg" 1 "$D/full/a.weights"
cp "$D/full/a.weights" "$D/full.ref"
# A full disk, as far as this process can tell: files may not grow past
# 512 KB (SIGXFSZ ignored, so the write fails with EFBIG instead).
expect_error disk_full "cannot save $D/full/a.weights: File too large; the $D/full/a.weights already there is kept" \
    sh -c "trap '' XFSZ; ulimit -f 1000; exec build/tests/save_loop '$D/big.cfg' 1 '$D/full/a.weights'"
cmp -s "$D/full/a.weights" "$D/full.ref" && pass disk_full_keeps_old || fail disk_full_keeps_old
[ -z "$(ls "$D/full" | grep -v '^a\.weights\(\.state\)\{0,1\}$')" ] && pass disk_full_no_temp_left \
    || fail disk_full_no_temp_left "$(ls "$D/full")"
expect_error folder_gone "cannot save $D/gone/a.weights: cannot create a file in $D/gone: No such file or directory" \
    build/tests/save_loop "$D/big.cfg" 1 "$D/gone/a.weights"
: > "$D/regular"
expect_error folder_is_file "cannot create a file in $D/regular: Not a directory" \
    build/tests/save_loop "$D/big.cfg" 1 "$D/regular/a.weights"
# Tests run as root, whom permissions do not stop: /sys takes no new files.
expect_error folder_refuses "cannot save /sys/a.weights: cannot create a file in /sys: Permission denied" \
    build/tests/save_loop "$D/big.cfg" 1 /sys/a.weights

# ---- the backup folder is checked when training starts -------------------------
shapes_dataset
CFG=tests/data/tiny-classifier.cfg
sed "s#backup=.*#backup=/sys#" "$SHAPES/shapes.data" > "$D/sys.data"
expect_error classifier_backup_refuses "$D/sys.data: backup=/sys: cannot write files there: Permission denied" \
    ./darknet classifier train "$D/sys.data" "$CFG"
sed "s#backup=.*#backup=$D/regular#" "$SHAPES/shapes.data" > "$D/file.data"
expect_error classifier_backup_is_file "$D/file.data: backup=$D/regular: cannot write files there: Not a directory" \
    ./darknet classifier train "$D/file.data" "$CFG"
grep -v '^backup=' "$SHAPES/shapes.data" > "$D/nobackup.data"
expect_error classifier_backup_default "$D/nobackup.data: backup=: missing, and its default /backup/ cannot take files" \
    ./darknet classifier train "$D/nobackup.data" "$CFG"
expect_error detector_backup_refuses "$D/sys.data: backup=/sys: cannot write files there: Permission denied" \
    ./darknet detector train "$D/sys.data" "$CFG"

# ---- divergence --------------------------------------------------------------
# Fine for 15 iterations (one epoch is saved at 13), then a learning rate
# of 1e11 without batch norm.
mkdir -p "$D/nan"
sed 's/^learning_rate=0.1/learning_rate=0.1\nsteps=15\nscales=1e12/; s/^policy=constant/policy=steps/;
     s/^max_batches=20/max_batches=40/; s/^batch_normalize=1//' "$CFG" > "$D/nan.cfg"
sed "s#backup=.*#backup=$D/nan#" "$SHAPES/shapes.data" > "$D/nan.data"
expect_error diverges "darknet: error: training stopped at iteration 16: layer 6 [softmax] produced a non-finite loss" \
    ./darknet classifier train "$D/nan.data" "$D/nan.cfg"
grep -q "weights saved before it are kept" "$WORK/diverges.out" && pass diverges_says_kept || fail diverges_says_kept
ls "$D"/nan/*.weights > /dev/null 2>&1 && pass diverges_earlier_save_exists || fail diverges_earlier_save_exists
check diverges_saved_files_finite build/tests/check_weights "$D/nan.cfg" "$D"/nan/*.weights
