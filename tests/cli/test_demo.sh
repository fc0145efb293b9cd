#!/bin/sh
# scripts/demo.sh (make demo) on a tiny budget: the demo's CCNN and plain
# twin for 12 iterations on a 200-image Fashion-MNIST slice.  The table,
# demo.json and demo.png hold both networks with the values of their own
# metrics logs, test reports and `netcheck` parameter counts; a second run
# reports that run alone (the metrics logs are started afresh).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
FM=$WORK/fm
for c in fashion-cnn fashion-cnn-k2; do
    sed 's/^max_batches=.*/max_batches=12/; s/^burn_in=.*/burn_in=4/' cfg/$c.cfg > "$WORK/$c.cfg"
done
demo() {
    DEMO_OUT=$FM DEMO_LIMIT=200 CFG=$WORK/fashion-cnn-k2.cfg PLAIN=$WORK/fashion-cnn.cfg scripts/demo.sh
}
check demo_runs demo
check demo_again demo
B=$FM/backup
for f in demo.md demo.json demo.png fashion-cnn.valid.json fashion-cnn-k2.valid.json; do
    [ -s "$B/$f" ] || missing="${missing:-} $f"
done
[ -z "${missing:-}" ] && pass demo_outputs_written || fail demo_outputs_written "missing:$missing"
[ "$($PY tests/tools/pngcheck.py "$B/demo.png")" = "1000 420 3" ] && pass demo_chart_png || fail demo_chart_png
grep -qE '^demo: table .*demo.md, chart .*demo.png, numbers .*demo.json, [0-9]+ seconds in all$' "$WORK/demo_again.out" \
    && pass demo_closing_line || fail demo_closing_line "$(tail -1 "$WORK/demo_again.out")"
# One line on the full grid, with the committed results' numbers.
want=$($PY -c "import sys; sys.path.insert(0, 'scripts'); import demo_report; print(demo_report.grid_line())")
[ -n "$want" ] && grep -qxF "$want" "$WORK/demo_again.out" && pass demo_grid_line || fail demo_grid_line "$want"

for c in fashion-cnn fashion-cnn-k2; do
    ./darknet netcheck "$WORK/$c.cfg" > "$WORK/$c.netcheck" 2>&1
done
$PY - "$B" "$WORK" "$WORK/demo_again.out" > "$WORK/values.out" 2>&1 <<'PYEOF'
import json, re, sys
b, work, printed = sys.argv[1:]
rows = json.load(open(b + "/demo.json"))["networks"]
assert [r["network"] for r in rows] == ["fashion-cnn-k2", "fashion-cnn"], rows
table = open(b + "/demo.md").read()
for r in rows:
    name = r["network"]
    recs = [json.loads(l) for l in open("%s/%s.metrics.jsonl" % (b, name))]
    assert [x["type"] for x in recs].count("start") == 1, "the log holds one run"
    its = [x for x in recs if x["type"] == "iteration"]
    assert r["iterations"] == 12 == its[-1]["iteration"], r
    assert r["images"] == its[-1]["images"] == 12 * 32, r
    end = [x for x in recs if x["type"] == "end"][0]
    assert abs(r["train_seconds"] - end["elapsed"]) < 0.06, (r, end)
    steps = sum(x["iteration_seconds"] for x in its)
    assert abs(r["img_per_s"] - r["images"] / steps) < 0.06, (r, steps)
    valid = json.load(open("%s/%s.valid.json" % (b, name)))
    assert valid["images"] == r["test_images"] == 200, valid
    assert abs(r["test_top1_error_pct"] - 100 * (1 - valid["top1"])) < 0.006, (r, valid)
    params = int(re.search(r"(\d+) parameters", open("%s/%s.netcheck" % (work, name)).read()).group(1))
    assert r["parameters"] == params, (r, params)
    evals = [x for x in recs if x["type"] == "eval"]
    assert [p[0] for p in r["curves"]["test"]] == [x["iteration"] for x in evals] and len(evals) >= 2, r
    line = "| %s | %.2f | %d | %.1f | %.0f |" % (name, r["test_top1_error_pct"], params, r["train_seconds"], r["img_per_s"])
    assert line in table, (line, table)
    assert line in open(printed).read(), "the table is printed"
assert rows[0]["parameters"] > rows[1]["parameters"], "full mixing: the CCNN has K times the weights"
print("ok")
PYEOF
[ "$(tail -1 "$WORK/values.out")" = ok ] && pass demo_values_match_logs || fail demo_values_match_logs "$(tail -3 "$WORK/values.out")"
