#!/usr/bin/python3
"""The end of `make demo`: a CCNN and its plain twin, side by side.

    scripts/demo_report.py OUT NAME=LOG,VALID_JSON,PARAMETERS ...

Each network is given by its name, its metrics log (BACKUP/NAME.metrics.jsonl),
its `classifier valid -json` report on the whole test set and its parameter
count (from `./darknet netcheck`).  Prints a table and writes OUT.md (the
same table), OUT.json (the numbers) and OUT.png (train and test error
against the iteration, one curve a network).  Everything is read from the
runs' own files, as scripts/grid_report.py does for the grid.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grid_plot  # noqa: E402
import grid_report  # noqa: E402


def summarise(name, log, valid_json, parameters):
    records = [json.loads(line) for line in open(log) if line.strip()]
    its = grid_report.last_per_iteration(records, "iteration")
    evals = grid_report.last_per_iteration(records, "eval")
    if not its:
        sys.exit("demo_report: %s has no iteration records" % log)
    test = json.load(open(valid_json))
    seconds = grid_report.train_seconds(records)
    # img/s of the training steps, loading included and evaluations left out
    step_seconds = sum(r["iteration_seconds"] for r in its)
    n = its[-1]["iteration"]
    return {
        "network": name, "parameters": int(parameters), "iterations": n,
        "images": its[-1]["images"], "train_seconds": round(seconds, 1),
        "img_per_s": round(its[-1]["images"] / step_seconds, 1) if step_seconds > 0 else None,
        "test_images": test["images"],
        "test_top1_error_pct": round(100.0 * (1 - test["top1"]), 2),
        "test_top1_pct": round(100.0 * test["top1"], 2),
        "curves": {"train": grid_report.binned_train_error(its, n),
                   "test": [(r["iteration"], 100.0 * (1 - r["top1"])) for r in evals]},
    }


def table(rows):
    out = ["| network | test top-1 error (%) | parameters | training time (s) | img/s |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append("| %s | %.2f | %d | %.1f | %s |" % (
            r["network"], r["test_top1_error_pct"], r["parameters"], r["train_seconds"],
            "%.0f" % r["img_per_s"] if r["img_per_s"] else "-"))
    return "\n".join(out)


def series(r):
    def flat(points):
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        return (xs, ys, ys, ys)
    return {"label": r["network"], "train": flat(r["curves"]["train"]), "test": flat(r["curves"]["test"])}


GRID = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "results",
                    "fashion-mnist-power", "results.json")


def grid_line(path=GRID):
    """One line on what the full Fashion-MNIST grid found for the K=2 CCNN
    against its plain twin, and against plain networks matched to it in
    parameters and in multiply-adds (docs/reproducing.md), so that one seed
    here is not taken for the answer.  Paired intervals, as the claims of
    the report."""
    if not os.path.exists(path):
        return ""
    res = json.load(open(path))
    claims = res.get("claims", {})
    plain = next((c for c in claims.get("CCNN better than plain", [])
                  if c["cell"].endswith("_k2_s0") and c["against"].endswith("_k1_s0")), None)
    if plain is None or plain["paired"]["low"] is None:
        return ""

    words = {"seen": "the CCNN better", "reversed": "the plain network better",
             "not seen": "no difference as large as 0.3 points", "undecided at this power": "undecided"}

    def said(c):
        p = c["paired"]
        return "%+.2f points [%+.2f, %+.2f], %s" % (p["diff"], p["low"], p["high"],
                                                    words.get(c["verdict"], c["verdict"]))
    line = ("The full grid (docs/reproducing.md), %d seeds at %d iterations, K=2 CCNN minus plain, test error "
            "with its paired 95 %% interval: same widths %s" % (plain["paired"]["n"], res["iterations"], said(plain)))
    for claim, what in (("better than the parameter-matched plain net", "same parameters"),
                        ("better than the compute-matched plain net", "same multiply-adds")):
        c = next(iter(claims.get(claim, [])), None)
        if c and c.get("paired") and c["paired"]["low"] is not None:
            line += "; %s %s" % (what, said(c))
    return line + ". One seed here is not the answer."


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    rows = []
    for arg in sys.argv[2:]:
        name, _, files = arg.partition("=")
        log, valid_json, parameters = files.split(",")
        rows.append(summarise(name, log, valid_json, parameters))
    md = table(rows)
    first = rows[0]["test_images"]
    caption = ("Fashion-MNIST, %d test images; both networks trained with the same seed and "
               "budget (%d iterations). Training time: the whole `classifier train`, its "
               "evaluations included; img/s: of the training iterations, loading included."
               % (first, rows[0]["iterations"]))
    with open(out + ".md", "w") as f:
        f.write(md + "\n\n" + caption + "\n")
    with open(out + ".json", "w") as f:
        json.dump({"networks": rows}, f, indent=1)
    grid_plot.draw(out + ".png", [series(r) for r in rows], max(r["iterations"] for r in rows))
    print(md)
    print(caption)
    line = grid_line()
    if line:
        print(line)


if __name__ == "__main__":
    main()
