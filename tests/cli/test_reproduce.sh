#!/bin/sh
# scripts/reproduce.py on a tiny budget: 2 cells x 2 seeds of 8 iterations on
# a 200-image Fashion-MNIST slice.  results.json, table.md and figure.png
# have the right shape and the values of the runs' own logs and test
# reports; a second call runs nothing; an interrupted run resumes from its
# last save and ends with the weights of an uninterrupted one.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
FM=$WORK/fm
$PY scripts/fashion_mnist.py "$FM" --limit 200 > /dev/null 2>&1
H="$PY scripts/reproduce.py --data $FM/fashion-mnist.data --eval-images 50 --evals 2"
OUT=$WORK/grid
check grid_runs $H --iterations 8 --seeds 1,2 --cells k1_s0,k2_s0 --out "$OUT"
for f in results.json table.md figure.png figure.json; do [ -s "$OUT/$f" ] || missing="${missing:-} $f"; done
[ -z "${missing:-}" ] && pass grid_outputs_written || fail grid_outputs_written "missing:$missing"
tail -1 "$WORK/grid_runs.out" | grep -q "wrote" && grep -qE '^grid: runs 4/4, iterations 32/32, [0-9.]+ it/s, ETA [0-9:-]+, all runs done$' "$WORK/grid_runs.out" \
    && pass grid_progress_line || fail grid_progress_line "$(tail -2 "$WORK/grid_runs.out")"
[ "$($PY tests/tools/pngcheck.py "$OUT/figure.png")" = "1000 420 3" ] && pass grid_figure_png || fail grid_figure_png

# The cfg variants: written into the output folder, with the cell's keys.
c=$OUT/runs/mnist-small_k2_s0_seed2/net.cfg
grep -qx 'branches=2' "$c" && grep -qx 'seed=2' "$c" && grep -qx 'max_batches=8' "$c" && grep -qx 'optimizer=sgd' "$c" \
    && ! grep -q '^sigma=' "$c" && git diff --quiet -- cfg && pass grid_cell_cfg || fail grid_cell_cfg "$(head -8 "$c")"

# Every value against the runs' own files, recomputed here.
$PY - "$OUT" > "$WORK/values.out" 2>&1 <<'PYEOF'
import json, math, re, sys
import numpy as np
out = sys.argv[1]
res = json.load(open(out + "/results.json"))
runs = res["runs"]
assert sorted(r["run"] for r in runs) == ["mnist-small_k%d_s0_seed%d" % (k, s) for k in (1, 2) for s in (1, 2)], runs
for r in runs:
    d = "%s/runs/%s/" % (out, r["run"])
    test = json.load(open(d + "test.json"))
    assert test["images"] == 200 == r["test_images"]
    assert abs(r["final_test_error_pct"] - 100 * (1 - test["top1"])) < 1e-9, r
    recs = [json.loads(l) for l in open(d + "net.metrics.jsonl")]
    evals = [x for x in recs if x["type"] == "eval"]
    assert [x["iteration"] for x in evals] == [4, 8] and all(x["images"] == 50 for x in evals), evals
    assert r["curves"]["test"] == [[x["iteration"], 100 * (1 - x["top1"])] for x in evals]
    assert abs(r["best_test_error_pct"] - min(100 * (1 - x["top1"]) for x in evals)) < 1e-9
    its = [x for x in recs if x["type"] == "iteration"]
    assert r["curves"]["train"] == [[x["iteration"], 100 * (1 - x["train_top1"])] for x in its]
    assert abs(r["final_train_error_pct"] - 100 * (1 - its[-1]["train_top1"])) < 1e-9   # the last 10 %: iteration 8
cells = {c["cell"]: c for c in res["cells"]}
errs = {}
for name in ("mnist-small_k1_s0", "mnist-small_k2_s0"):
    e = [r["final_test_error_pct"] for r in runs if r["cell"] == name]
    errs[name] = e
    c = cells[name]
    assert c["n"] == 2 and abs(c["mean_pct"] - np.mean(e)) < 1e-9 and abs(c["std_pct"] - np.std(e, ddof=1)) < 1e-9, c
(cmp,) = res["comparisons"]
a, b = errs["mnist-small_k2_s0"], errs["mnist-small_k1_s0"]
va, vb = np.var(a, ddof=1) / 2, np.var(b, ddof=1) / 2
assert cmp["cell"] == "mnist-small_k2_s0" and abs(cmp["diff"] - (np.mean(a) - np.mean(b))) < 1e-9
if va + vb > 0:
    assert abs(cmp["df"] - (va + vb) ** 2 / (va * va + vb * vb)) < 1e-9
    assert abs((cmp["high"] - cmp["low"]) / 2 / math.sqrt(va + vb) - 0) > 1.9
# Paired over the seeds: the same images in the same order for both cells.
p = cmp["paired"]
d = [x - y for x, y in zip(errs["mnist-small_k2_s0"], errs["mnist-small_k1_s0"])]
assert p["n"] == 2 and abs(p["diff"] - np.mean(d)) < 1e-9, p
if np.std(d) > 0:
    assert abs((p["high"] - p["low"]) / 2 - 12.7062047 * np.std(d, ddof=1) / math.sqrt(2)) < 1e-6, p
hashes = {}
for r in runs:
    recs = [json.loads(l) for l in open("%s/runs/%s/net.metrics.jsonl" % (out, r["run"]))]
    hashes[(r["cell"], r["seed"])] = [x["batch_hash"] for x in recs if x["type"] == "iteration"]
for seed in (1, 2):
    assert hashes[("mnist-small_k1_s0", seed)] == hashes[("mnist-small_k2_s0", seed)], seed
assert hashes[("mnist-small_k1_s0", 1)][0] != hashes[("mnist-small_k1_s0", 2)][0]
# No path of this checkout in what is meant to be committed.
import os
assert os.path.abspath(".") not in open(out + "/results.json").read()
# The table shows the same numbers.
table = open(out + "/table.md").read()
row = "| σ = 0 (sgd) | %.2f ± %.2f (n=2) | %.2f ± %.2f (n=2) |" % (
    cells["mnist-small_k1_s0"]["mean_pct"], cells["mnist-small_k1_s0"]["std_pct"],
    cells["mnist-small_k2_s0"]["mean_pct"], cells["mnist-small_k2_s0"]["std_pct"])
assert row in table, (row, table)
assert "| K=1 | K=2 |" in table
assert re.search(r"\| mnist-small_k2_s0 \| mnist-small_k1_s0 \| [+-]\d+\.\d\d \| ", table), table
assert re.search(r"Error falls as K grows: (seen in the means|reversed in the means|not seen) ", table), table
assert "Sigma = 0.0001 helps (against sigma = 0 at the same K): not tested" in table
# The figure's curves: mean, min and max over the two seeds of each cell.
fig = json.load(open(out + "/figure.json"))
assert [f["cell"] for f in fig] == ["mnist-small_k1_s0", "mnist-small_k2_s0"]
for f in fig:
    per_seed = [dict(map(tuple, r["curves"]["test"])) for r in runs if r["cell"] == f["cell"]]
    assert f["test"]["x"] == [4, 8]
    for i, x in enumerate(f["test"]["x"]):
        v = [c[x] for c in per_seed]
        assert abs(f["test"]["mean"][i] - np.mean(v)) < 1e-9 and f["test"]["min"][i] == min(v) and f["test"]["max"][i] == max(v)
print("ok")
PYEOF
grep -qx ok "$WORK/values.out" && pass grid_values_match_logs || fail grid_values_match_logs "$(tail -3 "$WORK/values.out")"

# ---- runs kept as their results only (docs/results): --reuse counts them as
# done and reports them as they were
check grid_reuse $H --iterations 8 --seeds 1,2 --cells k1_s0,k2_s0 --out "$WORK/reuse" --reuse "$OUT/results.json"
$PY -c "
import json, os, sys
a, b = (json.load(open(p + '/results.json')) for p in sys.argv[1:])
key = lambda r: (r['run'], r['final_test_error_pct'], r['curves'])
sys.exit(not (sorted(map(key, a['runs'])) == sorted(map(key, b['runs'])) and not os.path.exists(sys.argv[2] + '/runs')
              and a['comparisons'][0]['diff'] == b['comparisons'][0]['diff']))" "$OUT" "$WORK/reuse" \
    && grep -q '^grid: runs 4/4, iterations 32/32, 0.0 it/s' "$WORK/grid_reuse.out" \
    && pass grid_reuse_results || fail grid_reuse_results "$(tail -2 "$WORK/grid_reuse.out")"

# ---- the matched twins: the K=2 CCNN against the plain networks of its
# parameters and of its multiply-adds, and the cost of every cell
TW=$WORK/twins
check grid_twins $H --iterations 8 --seeds 1,2 --twins --cells k2_s0,params_k1_s0,flops_k1_s0 --out "$TW"
$PY - "$TW" > "$WORK/twins.out" 2>&1 <<'PYEOF'
import json, re, subprocess, sys
out = sys.argv[1]
res = json.load(open(out + "/results.json"))
comps = {(c["cell"], c["against"]): c for c in res["comparisons"]}
assert set(comps) == {("mnist-small_k2_s0", "mnist-small-params_k1_s0"),
                      ("mnist-small_k2_s0", "mnist-small-flops_k1_s0")}, list(comps)
err = {}
for r in res["runs"]:
    err.setdefault(r["cell"], {})[r["seed"]] = r["final_test_error_pct"]
for (a, b), c in comps.items():
    assert c["paired"]["n"] == 2 and abs(c["paired"]["diff"] - sum(err[a][s] - err[b][s] for s in (1, 2)) / 2) < 1e-9
for cell, cost in res["costs"].items():
    cfg = "%s/runs/%s_seed1/net.cfg" % (out, cell)
    text = subprocess.run(["./darknet", "netcheck", cfg, "-steps", "0"], capture_output=True, text=True).stdout
    assert "%d parameters, %d multiply-adds" % (cost["parameters"], cost["multiply_adds"]) in text, (cell, cost, text)
table = open(out + "/table.md").read()
assert "### Cost beside accuracy" in table and "| mnist-small-flops_k1_s0 | " in table, table
assert re.search(r"Training time measured on .+, \S+ OpenMP threads a run", table), table
assert all(r["cpu"] and r["threads"] for r in res["runs"]), res["runs"][0]
assert "mnist-small_k2_s0 | mnist-small-params_k1_s0 |" in table
print("ok")
PYEOF
grep -qx ok "$WORK/twins.out" && pass grid_twins_and_costs || fail grid_twins_and_costs "$(tail -3 "$WORK/twins.out")"
[ "$($PY tests/tools/pngcheck.py "$TW/cost.png")" = "1000 420 3" ] && pass grid_cost_chart || fail grid_cost_chart

# --time: each cell timed on its own (no grid run), timing.json, and the
# cost table's seconds per epoch taken from it: seconds per iteration (the
# median of the rounds, each the mean of its iterations' iteration_seconds
# after the warm-up) times iterations per epoch (200 images, batch 32)
check grid_time $H --iterations 8 --seeds 1,2 --twins --cells k2_s0,params_k1_s0,flops_k1_s0 --out "$TW" \
    --time 3 --time-rounds 3
$PY - "$TW" > "$WORK/time.out" 2>&1 <<'PYEOF'
import json, re, sys
out = sys.argv[1]
t = json.load(open(out + "/timing.json"))
assert t["iterations"] == 3 and t["rounds"] == 3 and t["cpu"] and t["threads"], t
assert set(t["cells"]) == {"mnist-small_k2_s0", "mnist-small-params_k1_s0", "mnist-small-flops_k1_s0"}, t
for c in t["cells"].values():
    assert len(c["rounds"]) == 3 and all(x > 0 for x in c["rounds"]) and c["seconds_per_iteration"] == sorted(c["rounds"])[1]
table = open(out + "/table.md").read()
assert "with the machine otherwise idle" in table and "median of 3 rounds of 3 training iterations" in table, table
row = re.search(r"\| mnist-small_k2_s0 \| [^|]+ \| \d+ \| \d+ \| ([0-9.]+) \|", table).group(1)
want = t["cells"]["mnist-small_k2_s0"]["seconds_per_iteration"] * 200 / 32
assert abs(float(row) - want) <= 0.05 + 1e-9, (row, want)
assert json.load(open(out + "/results.json"))["timing"] == t
assert not any(n.startswith("timing") and n != "timing.json" for n in __import__("os").listdir(out))
print("ok")
PYEOF
grep -qx ok "$WORK/time.out" && pass grid_time_idle_costs || fail grid_time_idle_costs "$(tail -3 "$WORK/time.out")"
grep -q "runs 6/6" "$WORK/grid_time.out" && pass grid_time_runs_no_grid || fail grid_time_runs_no_grid "$(tail -2 "$WORK/grid_time.out")"

# ---- a second call: every run is finished, nothing runs
touch -d '2001-01-01' "$OUT"/runs/*/train.log
check grid_again $H --iterations 8 --seeds 1,2 --cells k1_s0,k2_s0 --out "$OUT"
[ -z "$(find "$OUT/runs" -name train.log -newer "$FM/fashion-mnist.data")" ] && ! grep -q resuming "$WORK/grid_again.out" \
    && grep -q '^grid: runs 4/4, iterations 32/32, 0.0 it/s, ETA -, all runs done$' "$WORK/grid_again.out" \
    && pass grid_resume_skips_finished || fail grid_resume_skips_finished "$(tail -3 "$WORK/grid_again.out")"

# ---- an interrupted run: 30 iterations (6.25 an epoch, so saves after
# iterations 7, 13, 19, 25); what a stop after iteration 16 leaves is made by
# removing the later saves and log lines of a finished run.
REF=$WORK/ref
check grid_reference $H --iterations 30 --seeds 3 --cells k2_s0.0001 --out "$REF"
INT=$WORK/int
mkdir -p "$INT/runs" && cp -a "$REF/runs/mnist-small_k2_s0.0001_seed3" "$INT/runs/"
$PY - "$INT/runs/mnist-small_k2_s0.0001_seed3" > "$WORK/cut.out" 2>&1 <<'PYEOF'
import json, os, struct, sys
d = sys.argv[1]
os.remove(d + "/test.json")
for n in os.listdir(d):
    if n.endswith(".weights") or n.endswith(".backup"):
        seen = struct.unpack("<Q", open(d + "/" + n, "rb").read(20)[12:20])[0]
        if seen // 32 > 16:
            os.remove(d + "/" + n)
            os.remove(d + "/" + n + ".state")
recs = [l for l in open(d + "/net.metrics.jsonl") if json.loads(l).get("iteration", 0) <= 16 and json.loads(l)["type"] != "end"]
open(d + "/net.metrics.jsonl", "w").writelines(recs)
print(sorted(n for n in os.listdir(d) if n.endswith(".weights")))
PYEOF
check grid_interrupted $H --iterations 30 --seeds 3 --cells k2_s0.0001 --out "$INT"
grep -q 'resuming from net_2.weights (iteration 13)' "$WORK/grid_interrupted.out" \
    && pass grid_resumes_from_last_save || fail grid_resumes_from_last_save "$(cat "$WORK/cut.out"; grep -m2 'resum\|error' "$WORK/grid_interrupted.out")"
$PY -c "
import json, sys
a, b = (json.load(open(p + '/runs/mnist-small_k2_s0.0001_seed3/test.json')) for p in sys.argv[1:])
sys.exit(not (a['top1'] == b['top1'] and a['classes'] == b['classes']))" "$REF" "$INT" \
    && cmp -s "$REF/runs/mnist-small_k2_s0.0001_seed3/net.weights" "$INT/runs/mnist-small_k2_s0.0001_seed3/net.weights" \
    && pass grid_resume_exact || fail grid_resume_exact "final weights differ from the uninterrupted run's"
$PY -c "
import json, sys
a, b = (json.load(open(p + '/results.json'))['runs'][0] for p in sys.argv[1:])
keys = ('final_test_error_pct', 'best_test_error_pct', 'best_iteration', 'final_train_error_pct', 'curves')
sys.exit(any(a[k] != b[k] for k in keys))" "$REF" "$INT" && pass grid_resumed_results_equal || fail grid_resumed_results_equal

expect_error grid_unknown_cell "no cell named k3_s0" $H --iterations 8 --cells k3_s0 --out "$WORK/bad"
