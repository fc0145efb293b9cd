"""The outputs of scripts/reproduce.py, from the runs' own files:
results.json, table.md (Table-1 style, with Welch intervals and a caption
on the paper's trends) and figure.png (Figure-2 style).

Everything is read back from each run's metrics log (net.metrics.jsonl:
train error from `train_top1`, test error curve from `eval` records; for an
iteration logged twice, after a resume, the last record counts) and its
test.json (`classifier valid -json` on the final weights).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grid_plot  # noqa: E402
import grid_stats  # noqa: E402

TRAIN_BINS = 50


def last_per_iteration(records, kind):
    out = {}
    for r in records:
        if r["type"] == kind:
            out[r["iteration"]] = r
    return [out[i] for i in sorted(out)]


def train_seconds(records):
    """Training time in the log: each start's last `elapsed`, summed."""
    total, current = 0.0, 0.0
    for r in records:
        if r["type"] == "start":
            total, current = total + current, 0.0
        elif "elapsed" in r and r["elapsed"] is not None:
            current = r["elapsed"]
    return total + current


def binned_train_error(iterations, n_iterations):
    """(x, error %) averaged over TRAIN_BINS equal bins of iterations."""
    bins = max(1, min(TRAIN_BINS, n_iterations))
    sums, counts = [0.0] * bins, [0] * bins
    for r in iterations:
        if r.get("train_top1") is None:
            continue
        b = min(bins - 1, (r["iteration"] - 1) * bins // n_iterations)
        sums[b] += 100.0 * (1 - r["train_top1"])
        counts[b] += 1
    return [(round((b + 1) * n_iterations / bins), sums[b] / counts[b]) for b in range(bins) if counts[b]]


def run_result(run):
    records = run.records()
    its = last_per_iteration(records, "iteration")
    evals = last_per_iteration(records, "eval")
    test = json.load(open(run.test_json))
    machine_file = os.path.join(os.path.dirname(run.test_json), "machine.json")
    machine = json.load(open(machine_file)) if os.path.exists(machine_file) else {}
    tail = [r for r in its if r["iteration"] > run.iterations * 0.9 and r.get("train_top1") is not None]
    best = min(evals, key=lambda r: (1 - r["top1"], r["iteration"])) if evals else None
    return {
        "run": run.name, "cell": run.cell["name"], "family": run.cell["family"], "K": run.cell["K"],
        "sigma": run.cell["sigma"], "noise": run.cell["noise"], "seed": run.seed,
        "cfg": run.cfg, "base_cfg": run.src, "iterations": run.iterations,
        "final_test_error_pct": 100.0 * (1 - test["top1"]), "test_images": test["images"],
        "best_test_error_pct": 100.0 * (1 - best["top1"]) if best else None,
        "best_iteration": best["iteration"] if best else None,
        "final_train_error_pct": (sum(100.0 * (1 - r["train_top1"]) for r in tail) / len(tail)) if tail else None,
        "train_seconds": train_seconds(records), "test_seconds": test.get("seconds"), "batch": run.batch,
        "cpu": machine.get("cpu"), "threads": machine.get("threads"),
        "curves": {"train": binned_train_error(its, run.iterations),
                   "test": [(r["iteration"], 100.0 * (1 - r["top1"])) for r in evals]},
    }


def cell_summary(results):
    errors = [r["final_test_error_pct"] for r in results]
    mean, std = grid_stats.mean_std(errors)
    first = results[0]
    return {"cell": first["cell"], "family": first["family"], "K": first["K"], "sigma": first["sigma"],
            "noise": first["noise"], "n": len(errors), "mean_pct": mean, "std_pct": std,
            "seeds": [r["seed"] for r in results], "errors_pct": errors}


def curve_stats(results, key):
    """Mean, min and max over seeds at the x values every seed has."""
    per_seed = [dict(r["curves"][key]) for r in results]
    xs = sorted(set.intersection(*(set(c) for c in per_seed))) if per_seed else []
    vals = [[c[x] for c in per_seed] for x in xs]
    return (xs, [sum(v) / len(v) for v in vals], [min(v) for v in vals], [max(v) for v in vals])


def comparisons(summaries, by_cell):
    """Each CCNN cell against K=1 at the same sigma (and noise mode), and
    the noise baseline against plain K=1 sgd: Welch's 95 % interval, and
    the paired one over the seeds both cells ran (`paired`)."""
    out = []
    for s in summaries:
        if s["noise"] == "gradient":
            ref = [t for t in summaries if t["family"] == s["family"] and t["K"] == 1 and t["sigma"] == 0]
        elif s["K"] > 1:
            ref = [t for t in summaries if t["family"] == s["family"] and t["K"] == 1
                   and t["sigma"] == s["sigma"] and t["noise"] == s["noise"]]
        else:
            continue
        if ref:
            w = grid_stats.welch(s["errors_pct"], ref[0]["errors_pct"])
            p = grid_stats.paired(dict(zip(s["seeds"], s["errors_pct"])), dict(zip(ref[0]["seeds"], ref[0]["errors_pct"])))
            out.append(dict(w, cell=s["cell"], against=ref[0]["cell"], n=s["n"], n_against=ref[0]["n"], paired=p))
    return out + twin_comparisons(summaries)


def twin_comparisons(summaries):
    """The K=2 CCNN at sigma 0 against the plain networks matched to it in
    parameters and in multiply-adds (families FAMILY-params, FAMILY-flops)."""
    out = []
    for t in summaries:
        base = t["family"].rsplit("-", 1)[0]
        if t["family"] == base or not t["family"].endswith(("-params", "-flops")):
            continue
        ccnn = [s for s in summaries if s["family"] == base and s["K"] == 2 and s["sigma"] == 0 and not s["noise"]]
        if ccnn:
            c = ccnn[0]
            w = grid_stats.welch(c["errors_pct"], t["errors_pct"])
            p = grid_stats.paired(dict(zip(c["seeds"], c["errors_pct"])), dict(zip(t["seeds"], t["errors_pct"])))
            out.append(dict(w, cell=c["cell"], against=t["cell"], n=c["n"], n_against=t["n"], paired=p))
    return out


POWER_DELTA = 0.3   # points of test error: the size of the effects in question


def power_note(summaries, comps):
    """How many seeds a cell needs for a POWER_DELTA difference to be seen
    at 95 % with 80 % power, from the measured spread: the largest standard
    deviation of a compared cell (two samples) and of the paired differences."""
    sds = [s["std_pct"] for s in summaries if s["std_pct"] is not None]
    paired_sds = [c["paired"]["se"] * c["paired"]["n"] ** 0.5 for c in comps
                  if c.get("paired") and c["paired"]["se"] is not None]
    if not sds:
        return ""
    text = ("Seeds needed for a %.1f-point difference at 95 %% with 80 %% power: %d a cell by Welch "
            "(largest standard deviation of a cell, %.2f)" % (POWER_DELTA, grid_stats.seeds_needed(
                POWER_DELTA, max(sds)), max(sds)))
    if paired_sds:
        text += ", %d by the paired test (largest standard deviation of the paired differences, %.2f)" % (
            grid_stats.seeds_needed(POWER_DELTA, max(paired_sds), paired_design=True), max(paired_sds))
    return text + "."


def trend_verdicts(summaries, comps):
    """Two sentences on the paper's trends, from the means (and how many
    intervals lie wholly on one side of zero)."""
    by = {(s["family"], s["K"], s["sigma"]): s["mean_pct"] for s in summaries if s["noise"] != "gradient"}
    sentences = []
    rows = {}
    for (fam, k, sigma), m in by.items():
        rows.setdefault((fam, sigma), []).append((k, m))
    falls = rises = tested = 0
    for row in rows.values():
        if len(row) < 2:
            continue
        tested += 1
        means = [m for _, m in sorted(row)]
        falls += all(b < a for a, b in zip(means, means[1:]))
        rises += all(b > a for a, b in zip(means, means[1:]))
    k_comps = [c for c in comps if "_noise_" not in c["cell"] and not c["against"].endswith(("-params_k1_s0",
                                                                                             "-flops_k1_s0"))]
    sentences.append("Error falls as K grows: %s%s." % (
        verdict(tested, falls, rises, "sigma rows with two or more K values"), interval_note(k_comps)))
    pairs = [(by[key], by[(key[0], key[1], 0.0)]) for key in by if key[2] == 0.0001 and (key[0], key[1], 0.0) in by]
    helps = sum(a < b for a, b in pairs)
    hurts = sum(a > b for a, b in pairs)
    sentences.append("Sigma = 0.0001 helps (against sigma = 0 at the same K): %s." % (
        verdict(len(pairs), helps, hurts, "K values with both cells")))
    return " ".join(sentences)


def classify_difference(c, delta=POWER_DELTA):
    """The verdict on a difference of test error (negative: the first cell
    better), from its paired interval where there is one, else Welch's:
    "seen" when the interval lies below zero, "reversed" above, "not seen"
    when it contains zero and excludes an effect of delta either way, else
    "undecided at this power"."""
    p = c.get("paired") or {}
    low, high = (p["low"], p["high"]) if p.get("low") is not None else (c["low"], c["high"])
    if low is None:
        return "undecided at this power"
    if high < 0:
        return "seen"
    if low > 0:
        return "reversed"
    if -delta < low and high < delta:
        return "not seen"
    return "undecided at this power"


def claims(summaries):
    """The paper's claims, each as the differences that test it:
    CCNN better than plain (every K > 1 against K=1 at its sigma), better
    as K grows (each K against the next smaller one), sigma = 1e-4 helps (at
    each K, against sigma = 0), and the K=2 CCNN better than the plain
    networks matched to it in parameters and in multiply-adds."""
    def cell(fam, k, sigma, noise=None):
        return next((s for s in summaries if s["family"] == fam and s["K"] == k and s["sigma"] == sigma
                     and s["noise"] == noise), None)

    def diff(a, b):
        w = grid_stats.welch(a["errors_pct"], b["errors_pct"])
        p = grid_stats.paired(dict(zip(a["seeds"], a["errors_pct"])), dict(zip(b["seeds"], b["errors_pct"])))
        d = dict(w, cell=a["cell"], against=b["cell"], paired=p)
        d["verdict"] = classify_difference(d)
        return d

    out = {"CCNN better than plain": [], "better as K grows": [], "sigma = 1e-4 helps": [],
           "better than the parameter-matched plain net": [], "better than the compute-matched plain net": []}
    for fam in sorted(set(s["family"] for s in summaries)):
        ks = sorted(set(s["K"] for s in summaries if s["family"] == fam and s["noise"] != "gradient"))
        for sigma in sorted(set(s["sigma"] for s in summaries if s["family"] == fam and s["noise"] != "gradient")):
            noise = "weight" if sigma > 0 else None
            row = [cell(fam, k, sigma, noise) for k in ks]
            for k, c in zip(ks, row):
                base = cell(fam, 1, sigma, noise)
                if k > 1 and c and base:
                    out["CCNN better than plain"].append(diff(c, base))
            for a, b in zip(row[1:], row):
                if a and b and b["K"] > 1:
                    out["better as K grows"].append(diff(a, b))
        for k in ks:
            a, b = cell(fam, k, 0.0001, "weight"), cell(fam, k, 0.0)
            if a and b:
                out["sigma = 1e-4 helps"].append(diff(a, b))
        ccnn = cell(fam, 2, 0.0)
        for suffix, claim in (("-params", "better than the parameter-matched plain net"),
                              ("-flops", "better than the compute-matched plain net")):
            twin = cell(fam + suffix, 1, 0.0)
            if ccnn and twin:
                out[claim].append(diff(ccnn, twin))
    return out


def claims_section(found):
    lines = ["### The claims", "",
             "Each difference is of test error (points; negative: the first cell better), with its paired 95 %% "
             "interval. Seen: the interval lies below zero; reversed: above; not seen: it contains zero and "
             "excludes %.1f points either way; otherwise undecided at this power." % POWER_DELTA, "",
             "| claim | cell | against | difference | paired 95 % interval | verdict |", "|---|---|---|---|---|---|"]
    for claim, diffs in found.items():
        if not diffs:
            lines.append("| %s | - | - | - | - | not tested |" % claim)
        for d in diffs:
            p = d["paired"]
            interval = "[%+.2f, %+.2f]" % (p["low"], p["high"]) if p.get("low") is not None else "-"
            lines.append("| %s | %s | %s | %+.2f | %s | %s |" % (claim, d["cell"], d["against"], d["diff"], interval,
                                                               d["verdict"]))
    return lines + [""]


def verdict(tested, agree, against, what):
    if tested == 0:
        return "not tested (no %s)" % what
    if agree == tested:
        word = "seen in the means"
    elif against == tested:
        word = "reversed in the means"
    else:
        word = "not seen"
    return "%s (in %d of %d %s the mean error moves as the paper says, in %d the other way)" % (
        word, agree, tested, what, against)


def interval_note(comps):
    with_ci = [c for c in comps if c["low"] is not None]
    if not comps:
        return ""
    if not with_ci:
        return "; no confidence interval (one seed a cell)"
    below = sum(c["high"] < 0 for c in with_ci)
    above = sum(c["low"] > 0 for c in with_ci)
    return ("; of %d differences from K=1, %d have a 95%% interval wholly below zero and %d wholly above"
            % (len(with_ci), below, above))


def fmt_cell(s):
    if s is None:
        return "-"
    if s["std_pct"] is None:
        return "%.2f (n=%d)" % (s["mean_pct"], s["n"])
    return "%.2f ± %.2f (n=%d)" % (s["mean_pct"], s["std_pct"], s["n"])


def fmt_interval(c):
    if c["low"] is None:
        return "%+.2f | - | -" % c["diff"]
    df = "%.1f" % c["df"] if c["df"] is not None else "-"
    return "%+.2f | [%+.2f, %+.2f] | %s" % (c["diff"], c["low"], c["high"], df)


def fmt_paired(p):
    if not p or p["diff"] is None:
        return "- | - | 0"
    if p["low"] is None:
        return "%+.2f | - | %d" % (p["diff"], p["n"])
    return "%+.2f | [%+.2f, %+.2f] | %d" % (p["diff"], p["low"], p["high"], p["n"])


def markdown(summaries, comps, meta):
    lines = []
    for fam in sorted(set(s["family"] for s in summaries)):
        mine = [s for s in summaries if s["family"] == fam]
        ks = sorted(set(s["K"] for s in mine))
        sigmas = []
        for s in mine:
            if s["noise"] != "gradient" and s["sigma"] not in sigmas:
                sigmas.append(s["sigma"])
        lines += ["### %s: final test error (%%), mean ± std over seeds" % fam, "",
                  "| | " + " | ".join("K=%d" % k for k in ks) + " |", "|---" * (len(ks) + 1) + "|"]
        for sigma in sigmas:
            row = [next((s for s in mine if s["K"] == k and s["sigma"] == sigma and s["noise"] != "gradient"), None)
                   for k in ks]
            name = "σ = 0 (sgd)" if sigma == 0 else "σ = %g" % sigma
            lines.append("| %s | %s |" % (name, " | ".join(fmt_cell(s) for s in row)))
        for s in (s for s in mine if s["noise"] == "gradient"):
            row = [s if k == 1 else None for k in ks]
            lines.append("| plain net, gradient noise σ = %g (ResNet-18*) | %s |"
                         % (s["sigma"], " | ".join(fmt_cell(c) for c in row)))
        lines.append("")
    lines += ["### Differences of mean test error (percentage points): Welch and paired 95 % intervals", "",
              "| cell | against | difference | Welch 95 % interval | df | paired difference | paired 95 % interval "
              "| pairs |", "|---|---|---|---|---|---|---|---|"]
    for c in comps:
        lines.append("| %s | %s | %s | %s |" % (c["cell"], c["against"], fmt_interval(c), fmt_paired(c.get("paired"))))
    lines += ["", "%s %s, %d iterations a run, seeds %s; test error of the final weights on %s. "
              "Paired: the runs of both cells with the same seed, which train on the same batches. %s %s" % (
        "Table-1-style results on", meta["dataset"], meta["iterations"], ",".join(map(str, meta["seeds"])),
        meta["test_list"], trend_verdicts(summaries, comps), power_note(summaries, comps)), ""]
    return "\n".join(lines)


def seconds_per_epoch(summary, results, images, timing=None):
    """A cell's training seconds per epoch: from timing.json (reproduce.py
    --time, an idle machine) when it has the cell, else the mean over the
    cell's runs of their own training time."""
    timed = (timing or {}).get("cells", {}).get(summary["cell"])
    batch = next((r["batch"] for r in results if r["cell"] == summary["cell"]), None)
    if timed and batch:
        return timed["seconds_per_iteration"] * images / batch
    runs = [r for r in results if r["cell"] == summary["cell"] and r.get("train_seconds")]
    per_epoch = [r["train_seconds"] / (r["iterations"] * r["batch"] / images) for r in runs]
    return sum(per_epoch) / len(per_epoch) if per_epoch else None


def cost_points(summaries, results, meta):
    """For cost.png: each cell's mean test error with the 95 % interval of
    its mean (Student, n - 1), at its training seconds per epoch."""
    points = []
    for s in summaries:
        seconds = (seconds_per_epoch(s, results, meta["train_images"], meta.get("timing"))
                   if meta.get("train_images") else None)
        if seconds is None:
            continue
        half = (grid_stats.t_quantile(0.975, s["n"] - 1) * s["std_pct"] / s["n"] ** 0.5
                if s["std_pct"] is not None else None)
        points.append({"label": s["cell"].upper(), "seconds": seconds, "mean": s["mean_pct"],
                       "low": s["mean_pct"] - half if half is not None else None,
                       "high": s["mean_pct"] + half if half is not None else None})
    return points


def cost_table(summaries, results, meta):
    """Accuracy beside cost: parameters and multiply-adds (netcheck), and
    training seconds per epoch (the mean over the cell's runs)."""
    costs, images = meta.get("costs") or {}, meta.get("train_images")
    if not costs or not images:
        return []
    lines = ["### Cost beside accuracy", "",
             "| cell | test error (%) | parameters | multiply-adds | training seconds per epoch |",
             "|---|---|---|---|---|"]
    for s in summaries:
        seconds = seconds_per_epoch(s, results, images, meta.get("timing"))
        c = costs.get(s["cell"], {})
        lines.append("| %s | %s | %s | %s | %s |" % (
            s["cell"], fmt_cell(s), c.get("parameters", "-"), c.get("multiply_adds", "-"),
            "%.1f" % seconds if seconds is not None else "-"))
    timing = meta.get("timing")
    if timing:
        lines += ["", "Training seconds per epoch measured on %s, %s OpenMP threads, with the machine otherwise "
                  "idle (`reproduce.py --time`): the median of %d rounds of %d training iterations of each cell "
                  "(after %d), the cells in turn, the wait for each batch included and evaluations not; cells "
                  "not timed so: the mean of their runs' own training time. cost.png plots the error against "
                  "it, each cell's mean with the 95 %% interval of its mean."
                  % (timing["cpu"], timing["threads"], timing["rounds"], timing["iterations"], timing["warmup"]), ""]
        return lines
    machines = sorted(set("%s, %s OpenMP threads a run" % (r.get("cpu") or "an unrecorded CPU",
                                                          r.get("threads") or "unrecorded")
                          for r in results))
    lines += ["", "Training time measured on %s, as the runs went (evaluations included, the machine not "
              "necessarily idle); cost.png plots the error against it, each cell's mean with the "
              "95 %% interval of its mean." % "; ".join(machines), ""]
    return lines


def plotted_cells(summaries):
    """The baseline (K=1, sigma 0) and one CCNN: K=4 with sigma 1e-4 (the
    paper's choice) when run, else the largest K with the smallest sigma > 0,
    else the largest K."""
    plain = [s for s in summaries if s["K"] == 1 and s["sigma"] == 0]
    ccnn = [s for s in summaries if s["K"] > 1]
    pick = [s for s in ccnn if s["K"] == 4 and s["sigma"] == 0.0001]
    if not pick and ccnn:
        noisy = [s for s in ccnn if s["sigma"] > 0]
        pool = noisy or ccnn
        pick = sorted(pool, key=lambda s: (-s["K"], s["sigma"]))
    return plain[:1] + pick[:1]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def portable(value):
    """The results with paths below the checkout made relative to it (and
    others left as given), so that results.json holds no machine's paths."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, str) and value.startswith(ROOT + os.sep):
        return os.path.relpath(value, ROOT)
    return value


def write_all(out, runs, known, meta):
    """results.json, table.md and the charts of the runs; known: {run name:
    result} of runs done earlier and kept as results only (--reuse)."""
    results = [known[r.name] if r.name in known else run_result(r) for r in runs]
    cells = []
    for r in results:
        if r["cell"] not in cells:
            cells.append(r["cell"])
    grouped = {c: [r for r in results if r["cell"] == c] for c in cells}
    summaries = [cell_summary(grouped[c]) for c in cells]
    comps = comparisons(summaries, grouped)
    meta = portable(dict(meta, iterations=max(r["iterations"] for r in results)))
    timing_path = os.path.join(out, "timing.json")
    if os.path.exists(timing_path):
        meta["timing"] = json.load(open(timing_path))
    found = claims(summaries)
    doc = portable(dict(meta, runs=results, cells=summaries, comparisons=comps,
                        trends=trend_verdicts(summaries, comps), claims=found))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(markdown(summaries, comps, meta) + "\n".join(claims_section(found) + cost_table(summaries, results, meta)))
    series = []
    for s in plotted_cells(summaries):
        rs = grouped[s["cell"]]
        label = ("BASELINE K=1 SGD" if s["K"] == 1 else "CCNN K=%d SIGMA=%g" % (s["K"], s["sigma"]))
        series.append({"label": label, "cell": s["cell"], "train": curve_stats(rs, "train"),
                       "test": curve_stats(rs, "test")})
    points = cost_points(summaries, results, meta)
    if points:
        grid_plot.draw_cost(os.path.join(out, "cost.png"), points)
    if series:
        grid_plot.draw(os.path.join(out, "figure.png"), series, meta["iterations"])
        with open(os.path.join(out, "figure.json"), "w") as f:
            json.dump([{"label": s["label"], "cell": s["cell"],
                        "train": dict(zip(("x", "mean", "min", "max"), s["train"])),
                        "test": dict(zip(("x", "mean", "min", "max"), s["test"]))} for s in series], f, indent=1)
    print("wrote %s/results.json, table.md, figure.png" % out, file=sys.stderr)
