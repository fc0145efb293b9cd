#!/bin/sh
# Our `classifier train` and `classifier valid`: the closing summary and its
# JSON, validation during training with the best weights kept, the chart,
# and throughput and ETA in the iteration lines.
. "$(dirname "$0")/lib.sh"
shapes_dataset
PY=/usr/bin/python3
CFG=tests/data/tiny-classifier.cfg
DATA=$WORK/shapes.data
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$DATA"

# ---- a known answer: all-zero weights give equal scores for every class, so
# top-1 is always class 0 (hbars) and top-2 classes 0 and 1; the valid list
# holds 25 images of each of the 4 classes.
$PY -c "
import struct, sys
open(sys.argv[1], 'wb').write(struct.pack('<iiiQ', 0, 2, 0, 0) + bytes(4 * 100000))
" "$WORK/zero.weights"
check zero_valid ./darknet classifier valid "$DATA" "$CFG" "$WORK/zero.weights" -json "$WORK/zero.json"
grep -qx 'summary: 100 images, top 1: 0.2500, top 2: 0.5000, [0-9.]* seconds' "$WORK/zero_valid.out" \
    && pass zero_summary || fail zero_summary "$(grep summary "$WORK/zero_valid.out")"
per_class=$(grep -E '^ +[0-9]+: [0-9.]+ \([0-9]+/[0-9]+\) ' "$WORK/zero_valid.out" | awk '{print $2, $3, $4}' | tr '\n' ';')
[ "$per_class" = "1.0000 (25/25) hbars;0.0000 (0/25) vbars;0.0000 (0/25) disc;0.0000 (0/25) cross;" ] \
    && pass zero_per_class || fail zero_per_class "$per_class"
$PY - "$WORK/zero.json" > "$WORK/zero_json.out" 2>&1 <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["images"] == 100 and j["k"] == 2, j
assert j["top1"] == 0.25 and j["top1_correct"] == 25 and j["topk"] == 0.5 and j["topk_correct"] == 50, j
assert [c["name"] for c in j["classes"]] == ["hbars", "vbars", "disc", "cross"]
assert [(c["images"], c["correct"], c["accuracy"]) for c in j["classes"]] == [(25, 25, 1.0), (25, 0, 0.0), (25, 0, 0.0), (25, 0, 0.0)]
assert j["unlabeled"] == 0 and j["ambiguous"] == 0
print("ok")
PYEOF
grep -qx ok "$WORK/zero_json.out" && pass zero_json || fail zero_json "$(tail -3 "$WORK/zero_json.out")"

# ---- training with validation every half epoch (400 images, batch 32: 12.5
# iterations an epoch, so at iterations 7, 13, 19 and at the end, 20).
check train ./darknet classifier train "$DATA" "$CFG" -valid_every 0.5 -dont_show
out=$WORK/train.out
n=$(grep -cE '^ *[0-9]+, [0-9.]+: [0-9.]+, [0-9.]+ avg, [0-9.]+ rate, [0-9.]+ seconds, [0-9]+ images, [0-9.]+ img/s, ETA [0-9]+:[0-5][0-9]:[0-5][0-9]$' "$out")
[ "$n" -eq 20 ] && pass iteration_lines_have_rate_and_eta || fail iteration_lines_have_rate_and_eta "$n of 20: $(grep -m1 -E '^ *1, ' "$out")"
grep -qE '^20, .* img/s, ETA 0:00:00$' "$out" && pass eta_reaches_zero || fail eta_reaches_zero "$(grep -E '^20, ' "$out")"
awk '/img\/s, ETA/ { for (i = 1; i <= NF; i++) if ($i == "img/s,") r = $(i-1) + 0; if (r <= 0) bad = 1 } END { exit bad }' "$out" \
    && pass images_per_second_positive || fail images_per_second_positive
its=$(grep -E '^valid: iteration ' "$out" | awk '{print $3}' | tr -d ',' | tr '\n' ' ')
[ "$its" = "7 13 19 20 " ] && pass valid_every_half_epoch || fail valid_every_half_epoch "iterations: $its"
for f in tiny-classifier_best.weights tiny-classifier_1.weights tiny-classifier.weights tiny-classifier_chart.png; do
    [ -s "$WORK/$f" ] || missing="$missing $f"
done
[ -z "${missing:-}" ] && pass train_files_written || fail train_files_written "missing:$missing"
# The best printed is the highest top-1 of the validations, and the kept file reproduces it.
best=$(grep -E '^best top 1: ' "$out" | awk '{print $4}')
max=$(grep -E '^valid: iteration ' "$out" | sed 's/.*: top 1: \([0-9.]*\),.*/\1/' | sort -g | tail -1)
[ -n "$best" ] && [ "$best" = "$max" ] && pass best_is_highest || fail best_is_highest "best $best, highest $max"
check valid_best ./darknet classifier valid "$DATA" "$CFG" "$WORK/tiny-classifier_best.weights" -quiet
got=$(sed -n 's/^summary: 100 images, top 1: \([0-9.]*\),.*/\1/p' "$WORK/valid_best.out")
$PY -c "import sys; sys.exit(abs(float('$got') - float('$best')) > 1e-6)" 2>/dev/null \
    && pass best_weights_reproduce_best || fail best_weights_reproduce_best "valid $got, training said $best"
grep -qE '^[0-9]+: top 1: ' "$WORK/valid_best.out" && fail quiet_has_no_per_image_lines || pass quiet_has_no_per_image_lines

# ---- the chart: a valid PNG of the documented size, 800x500 RGB
size=$($PY tests/tools/pngcheck.py "$WORK/tiny-classifier_chart.png")
[ "$size" = "800 500 3" ] && pass chart_png || fail chart_png "$size"

# ---- valid on the trained weights: upstream's per-image lines, and a summary
# that agrees with them.  Each image's top-1 hit is recovered from the running
# top-1 average, then counted per class.
W=$WORK/tiny-classifier.weights
check valid ./darknet classifier valid "$DATA" "$CFG" "$W" -json "$WORK/valid.json"
v=$WORK/valid.out
a=$(grep -cE '^[^,]+\.png, -?[0-9]+, [0-9.e+-]+, [0-9.e+-]+, $' "$v")
b=$(grep -cE '^[0-9]+: top 1: [0-9.]+, top 2: [0-9.]+$' "$v")
[ "$a" -eq 100 ] && [ "$b" -eq 100 ] && pass per_image_lines_upstream_format || fail per_image_lines_upstream_format "$a path lines, $b running lines"
awk -F', ' '
    /\.png, -?[0-9]+, / { cls = $2 + 0; next }
    /^[0-9]+: top 1: / { split($0, f, " "); i = f[1] + 0; avg = f[4] + 0
        hits = int(avg * (i + 1) + 0.5); hit = hits - prev; prev = hits
        n[cls]++; c[cls] += hit; total = hits }
    END { for (k = 0; k < 4; k++) printf "%d/%d;", c[k], n[k]; printf "%d\n", total }' "$v" > "$WORK/derived"
summary=$(grep -E '^ +[0-9]+: [0-9.]+ \(' "$v" | sed 's/.*(\([0-9]*\/[0-9]*\)).*/\1/' | tr '\n' ';')
top1=$(sed -n 's/^summary: 100 images, top 1: \([0-9.]*\),.*/\1/p' "$v")
derived=$(cat "$WORK/derived")
total=${derived##*;}
[ "$summary" = "${derived%;*};" ] && pass per_class_matches_per_image || fail per_class_matches_per_image "summary $summary, per image $derived"
[ "$(awk -v t="$total" 'BEGIN { printf "%.4f", t / 100 }')" = "$top1" ] && pass top1_matches_per_image \
    || fail top1_matches_per_image "summary $top1, per image $total/100"
$PY - "$WORK/valid.json" "$v" > "$WORK/json_check.out" 2>&1 <<'PYEOF'
import json, re, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
m = re.search(r"^summary: (\d+) images, top 1: ([0-9.]+), top 2: ([0-9.]+)", text, re.M)
assert m, "no summary"
assert j["images"] == int(m.group(1)) == 100
assert abs(j["top1"] - float(m.group(2))) < 6e-5 and abs(j["topk"] - float(m.group(3))) < 6e-5, (j, m.groups())
assert sum(c["images"] for c in j["classes"]) == 100
assert sum(c["correct"] for c in j["classes"]) == j["top1_correct"]
rows = re.findall(r"^ +(\d+): ([0-9.]+) \((\d+)/(\d+)\) (\S+)$", text, re.M)
assert [(int(i), int(c), int(n), name) for i, _, c, n, name in rows] == \
       [(c["index"], c["correct"], c["images"], c["name"]) for c in j["classes"]], rows
print("ok")
PYEOF
grep -qx ok "$WORK/json_check.out" && pass json_matches_summary || fail json_matches_summary "$(tail -3 "$WORK/json_check.out")"

# The per-image lines are byte for byte those of upstream's own `classifier
# valid` (the unpatched build that test-build makes), which runs one image at
# a time where ours runs batches of 32.  DARKNET_REFERENCE=1 runs upstream's
# kernels, so that the probabilities agree to the last printed digit.
DARKNET_REFERENCE=1 ./darknet classifier valid "$DATA" "$CFG" "$W" 2>/dev/null | grep -vE '^(summary: |per class: |  )' > "$WORK/ours_lines.out"
build/plain/darknet classifier valid "$DATA" "$CFG" "$W" > "$WORK/upstream_lines.out" 2>/dev/null
[ -s "$WORK/upstream_lines.out" ] && cmp -s "$WORK/ours_lines.out" "$WORK/upstream_lines.out" \
    && pass per_image_lines_equal_upstream || fail per_image_lines_equal_upstream "$(diff "$WORK/ours_lines.out" "$WORK/upstream_lines.out" | head -3)"

# ---- resume with a chart elsewhere; no validation asked, no best file
sed 's/^max_batches=.*/max_batches=23/' "$CFG" > "$WORK/more.cfg"
rm -f "$WORK/more_best.weights"
check resume ./darknet classifier train "$DATA" "$WORK/more.cfg" "$W" -chart "$WORK/c.png" -dont_show
grep -qE '^ *21, ' "$WORK/resume.out" && [ "$($PY tests/tools/pngcheck.py "$WORK/c.png")" = "800 500 3" ] \
    && [ ! -e "$WORK/more_best.weights" ] && ! grep -q '^valid:' "$WORK/resume.out" \
    && pass resume_chart_option || fail resume_chart_option

# ---- errors
expect_error multi_gpu "one GPU at a time (-gpus 0,1): for several GPUs run the ranks of an MPI job, one GPU each (make MPI=1 GPU=1; docs/gpu.md" ./darknet classifier train "$DATA" "$CFG" -gpus 0,1
expect_error valid_usage "usage:" ./darknet classifier valid "$DATA" "$CFG"
printf 'hbars\n' > "$WORK/short_labels.txt"
sed "s#^labels=.*#labels=$WORK/short_labels.txt#" "$DATA" > "$WORK/short.data"
expect_error labels_too_few "1 lines, but classes=4" ./darknet classifier valid "$WORK/short.data" "$CFG" "$W"
