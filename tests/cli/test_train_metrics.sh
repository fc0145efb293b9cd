#!/bin/sh
# The metrics log of the training loop, BACKUP/NAME.metrics.jsonl: one
# record per iteration whose loss is the one printed, evaluation records
# where evaluations ran, and a resumed run that appends to the log.  Also:
# a run stopped by a fatal error while the loaders are busy exits with
# status 1, never a crash.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
shapes_dataset
PY=/usr/bin/python3
CFG=$WORK/tiny-classifier.cfg
sed 's/^\[net\]/[net]\nseed=3/' tests/data/tiny-classifier.cfg > "$CFG"
DATA=$WORK/shapes.data
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$DATA"
LOG=$WORK/tiny-classifier.metrics.jsonl

# check_log NAME OUT LOG ITERATIONS EVALS [KEY]: every iteration line of OUT
# has a record in LOG with the same loss, average, rate and images, LOG holds
# exactly those iterations (in order, after the records of earlier runs) and
# evaluations at EVALS (space-separated iterations) with the score KEY.
check_log() {
    $PY - "$@" > "$WORK/$1.check" 2>&1 <<'PYEOF'
import json, re, struct, sys
def f32(x):   # the log writes single-precision values with 9 digits, which read back exactly
    return struct.unpack("f", struct.pack("f", x))[0]
name, out, log, iterations, evals = sys.argv[1:6]
key = sys.argv[6] if len(sys.argv) > 6 else "top1"
recs = [json.loads(l) for l in open(log)]
start = max(i for i, r in enumerate(recs) if r["type"] == "start")
run = recs[start:]
printed = re.findall(r"^(\d+)(?:, [0-9.]+)?: ([0-9.]+), ([0-9.]+) avg, ([0-9.]+) rate, [0-9.]+ seconds, (\d+) images,",
                     open(out).read(), re.M)
its = [r for r in run if r["type"] == "iteration"]
assert [r["iteration"] for r in its] == [int(p[0]) for p in printed] == list(range(*map(int, iterations.split()))), \
    ([r["iteration"] for r in its], [p[0] for p in printed])
for r, p in zip(its, printed):
    assert "%f" % f32(r["loss"]) == p[1] and "%f" % f32(r["avg_loss"]) == p[2] and "%f" % f32(r["learning_rate"]) == p[3], (r, p)
    assert r["images"] == int(p[4]) and r["img_s"] > 0 and r["seconds"] >= 0, (r, p)
    if key == "top1":
        assert 0 <= r["train_top1"] <= 1 and abs(r["epoch"] - r["images"] / 400) < 1e-9, r
ev = [r for r in run if r["type"] == "eval"]
assert [r["iteration"] for r in ev] == [int(x) for x in evals.split()], ev
for r in ev:
    assert 0 <= r[key] <= 1 and r["best"] >= r[key] and r["images"] > 0, r
assert run[-1]["type"] == "end" and run[-1]["iteration"] == its[-1]["iteration"], run[-1]
print("ok")
PYEOF
    grep -qx ok "$WORK/$1.check" && pass "$1" || fail "$1" "$(tail -2 "$WORK/$1.check")"
}

# ---- a classifier with validation every half epoch (at 7, 13, 19 and 20)
check train ./darknet classifier train "$DATA" "$CFG" -valid_every 0.5 -dont_show
check_log classifier_log "$WORK/train.out" "$LOG" "1 21" "7 13 19 20"
# the evaluation records hold the printed top-1 and top-2
$PY - "$LOG" "$WORK/train.out" > "$WORK/evals.check" 2>&1 <<'PYEOF'
import json, re, struct, sys
def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval"' in l]
lines = re.findall(r"^valid: iteration (\d+), .*: top 1: ([0-9.]+), top 2: ([0-9.]+), (\d+) images", open(sys.argv[2]).read(), re.M)
assert len(ev) == len(lines) == 4, (ev, lines)
for r, l in zip(ev, lines):
    assert (r["iteration"], "%f" % f32(r["top1"]), "%f" % f32(r["topk"]), r["k"], r["images"]) == (int(l[0]), l[1], l[2], 2, int(l[3])), (r, l)
print("ok")
PYEOF
grep -qx ok "$WORK/evals.check" && pass eval_records_match_lines || fail eval_records_match_lines "$(tail -2 "$WORK/evals.check")"

# ---- resumed to iteration 26 (the same cfg name, so the same log): the
# log grows and the first run's lines stay
cp "$LOG" "$WORK/first.jsonl"
mkdir -p "$WORK/more"
sed 's/^max_batches=.*/max_batches=26/' "$CFG" > "$WORK/more/tiny-classifier.cfg"
check resume ./darknet classifier train "$DATA" "$WORK/more/tiny-classifier.cfg" "$WORK/tiny-classifier.weights" \
    -valid_every 0.5 -dont_show
n=$(wc -l < "$WORK/first.jsonl")
head -n "$n" "$LOG" | cmp -s - "$WORK/first.jsonl" && [ "$(wc -l < "$LOG")" -gt "$n" ] \
    && pass resume_keeps_earlier_records || fail resume_keeps_earlier_records
[ "$(grep -c '"type": "start"' "$LOG")" -eq 2 ] && pass resume_appends_start_record \
    || fail resume_appends_start_record "$(grep -c '"type": "start"' "$LOG")"
check_log resumed_log "$WORK/resume.out" "$LOG" "21 27" "25 26"

# ---- a detector with mAP every 2 iterations
voc_shapes
convert_to "$WORK/voc"
sed 's/^max_batches=.*/max_batches=5/' tests/data/tiny-det.cfg > "$WORK/det.cfg"
check det_train ./darknet detector train "$WORK/voc/voc.data" "$WORK/det.cfg" -map -map_every 2
check_log detector_log "$WORK/det_train.out" "$WORK/voc/det.metrics.jsonl" "1 6" "2 4 5" map
grep -q '"points": 11' "$WORK/voc/det.metrics.jsonl" && grep -q '"iou_thresh": 0.5' "$WORK/voc/det.metrics.jsonl" \
    && pass detector_eval_fields || fail detector_eval_fields

# ---- a fatal error while the loaders run: status 1 every time (it was a
# crash in about half the runs, in OpenCV's exit-time destructors)
sed 's/^learning_rate=0.1/learning_rate=0.1\nsteps=3\nscales=1e12/; s/^policy=constant/policy=steps/;
     s/^batch_normalize=1//' tests/data/tiny-classifier.cfg > "$WORK/nan.cfg"
statuses=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    ./darknet classifier train "$DATA" "$WORK/nan.cfg" > "$WORK/nan.out" 2>&1
    statuses="$statuses$?"
done
[ "$statuses" = "111111111111" ] && pass fatal_error_never_crashes || fail fatal_error_never_crashes "statuses $statuses"
