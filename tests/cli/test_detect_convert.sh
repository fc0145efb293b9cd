#!/bin/sh
# VOC conversion: a generated devkit (VOC2007 trainval and test, VOC2012
# trainval) becomes labels, difficult lists, list files, voc.data and
# voc.names; every label line is checked against its XML annotation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
V=$WORK/voc
/usr/bin/python3 scripts/gen_voc_shapes.py "$V" --trainval 12 --test 6 --voc2012 5 --seed 3 2>/dev/null
# an object of a class outside the list, which the conversion leaves out
A=$V/VOCdevkit/VOC2007/Annotations/2007_000001.xml
sed -i 's#</annotation>#<object><name>horse</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>#' "$A"
D=$WORK/dn
check convert /usr/bin/python3 scripts/voc_convert.py "$V/VOCdevkit" --out "$D" --names "$V/names.txt"

lines() { wc -l < "$1" | tr -d ' '; }
[ "$(lines "$D/2007_trainval.txt")" = 12 ] && [ "$(lines "$D/2007_test.txt")" = 6 ] \
    && [ "$(lines "$D/2012_trainval.txt")" = 5 ] && [ "$(lines "$D/train.txt")" = 17 ] \
    && [ "$(lines "$D/test.txt")" = 6 ] && pass list_files || fail list_files
grep -qx "classes=3" "$D/voc.data" && grep -qx "valid=$D/test.txt" "$D/voc.data" \
    && grep -qx "train=$D/train.txt" "$D/voc.data" && grep -qx "names=$D/voc.names" "$D/voc.data" \
    && pass voc_data || fail voc_data "$(cat "$D/voc.data")"
[ "$(cat "$D/voc.names" | tr '\n' ' ')" = "circle square triangle " ] && pass voc_names || fail voc_names
grep -q "horse 1" "$WORK/convert.out" && pass unknown_class_reported || fail unknown_class_reported

# every image: labels/ID.txt holds its non-difficult objects, difficult/ID.txt
# its difficult ones, as "class cx cy w h" with VOC corners read as [xmin-1, xmax]
/usr/bin/python3 - "$V/VOCdevkit" "$D/train.txt" "$D/test.txt" > "$WORK/labels.out" 2>&1 <<'PY'
import os, re, sys
names = ["circle", "square", "triangle"]
bad = checked = difficult = 0
for lst in sys.argv[2:]:
    for img in open(lst).read().split():
        base = os.path.dirname(os.path.dirname(img))
        iid = os.path.splitext(os.path.basename(img))[0]
        xml = open(os.path.join(base, "Annotations", iid + ".xml")).read()
        w = int(re.search(r"<width>(\d+)", xml).group(1)); h = int(re.search(r"<height>(\d+)", xml).group(1))
        want = {"labels": [], "difficult": []}
        for o in re.findall(r"<object>(.*?)</object>", xml, re.S):
            name = re.search(r"<name>(\w+)", o).group(1)
            if name not in names:
                continue
            x1, y1, x2, y2 = (float(re.search(r"<%s>([\d.]+)" % k, o).group(1)) for k in ("xmin", "ymin", "xmax", "ymax"))
            kind = "difficult" if "<difficult>1" in o else "labels"
            want[kind].append([names.index(name), (x1 - 1 + x2) / 2 / w, (y1 - 1 + y2) / 2 / h, (x2 - x1 + 1) / w, (y2 - y1 + 1) / h])
        for kind in want:
            path = os.path.join(base, kind, iid + ".txt")
            got = [[float(v) for v in l.split()] for l in open(path)] if os.path.exists(path) else []
            if kind == "labels" and not os.path.exists(path):
                bad += 1; print("missing", path)
            difficult += len(got) if kind == "difficult" else 0
            if len(got) != len(want[kind]) or any(abs(a - b) > 1e-6 for g, e in zip(got, want[kind]) for a, b in zip(g, e)):
                bad += 1; print("mismatch", path, got, want[kind])
            checked += 1
print("checked", checked, "bad", bad, "difficult", difficult)
sys.exit(1 if bad or not difficult else 0)
PY
[ $? -eq 0 ] && pass labels_match_annotations || fail labels_match_annotations "$(tail -3 "$WORK/labels.out")"

# converting again gives the same files
cp -r "$V/VOCdevkit/VOC2007/labels" "$WORK/labels.before"
check convert_again /usr/bin/python3 scripts/voc_convert.py "$V/VOCdevkit" --out "$D" --names "$V/names.txt"
diff -r "$WORK/labels.before" "$V/VOCdevkit/VOC2007/labels" > /dev/null && pass convert_is_repeatable || fail convert_is_repeatable

expect_error missing_set "cannot read image set" \
    /usr/bin/python3 scripts/voc_convert.py "$V/VOCdevkit" --out "$D" --sets 2009:trainval

# the VOC detector cfgs in cfg/ are what their generator writes
check cfgs_up_to_date /usr/bin/python3 scripts/gen_detector_cfgs.py --check
