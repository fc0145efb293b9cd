# Helpers for the detection tests (sourced after lib.sh, not run).

# The shared synthetic VOC devkit (made once): $VOC/VOCdevkit, $VOC/names.txt
voc_shapes() {
    VOC=$ROOT/build/tests/vocshapes
    /usr/bin/python3 scripts/gen_voc_shapes.py "$VOC" --trainval 160 --test 60 --seed 1 2>/dev/null
}

# convert_to DIR: darknet's layout of the shared set; voc.data's backup is DIR.
convert_to() {
    /usr/bin/python3 scripts/voc_convert.py "$VOC/VOCdevkit" --out "$1" --names "$VOC/names.txt" \
        --backup "$1" > "$1.convert.out" 2>&1
}

# True when ./darknet knows the [gcconv] layer.
gcconv_available() {
    printf '[net]\nwidth=8\nheight=8\nchannels=3\n[gcconv]\nfilters=1\nsize=1\nbranches=1\n' > "$WORK/probe.cfg"
    printf 'classes=1\nvalid=/dev/null\n' > "$WORK/probe.data"
    ! ./darknet detector map "$WORK/probe.data" "$WORK/probe.cfg" "$WORK/none.weights" 2>&1 \
        | grep -q 'unknown section type'
}

# value FILE PATTERN: the first number after PATTERN on a line of FILE.
value() {
    grep -F -- "$2" "$1" | head -1 | sed "s/.*$2 *//" | grep -oE '^-?[0-9.]+'
}
