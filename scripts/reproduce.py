#!/usr/bin/python3
"""Run the paper's Table-1 grid (K x sigma, plus the gradient-noise
baseline) over several seeds, and write results.json, a Table-1-style
markdown table with Welch confidence intervals, and a Figure-2-style chart.

    scripts/reproduce.py [--dataset fashion-mnist|cifar10|cifar100] [--table 1|2]
        [--iterations N] [--seeds 1,2,3] [--k 1,2,4,8] [--sigma 0,0.0001,0.001]
        [--cells NAME,...] [--no-baseline] [--out DIR] [--list]

Each run is `./darknet classifier train` on a cfg written into OUT/runs/
(never into cfg/), then `./darknet classifier valid` on its final weights.
Finished runs are skipped; an interrupted run resumes exactly from its last
save.  See docs/reproducing.md.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grid_report  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DATASETS = {
    "fashion-mnist": "data/generated/fashion-mnist/fashion-mnist.data",
    "cifar10": "data/generated/cifar-10/cifar10.data",
    "cifar100": "data/generated/cifar-100/cifar100.data",
}
# network families: name -> (plain cfg, CCNN cfg pattern or None, K values)
FAMILIES = {
    "mnist-small": ("cfg/mnist-small.cfg", "cfg/mnist-small-k2.cfg", [1, 2, 4, 8]),
    "resnet18-cifar": ("cfg/resnet18-cifar.cfg", "cfg/resnet18-cifar-k%d.cfg", [1, 2, 4, 8]),
    "wrn-40-4-cifar": ("cfg/wrn-40-4-cifar.cfg", "cfg/wrn-40-4-cifar-k%d.cfg", [1, 2]),
    "wrn-28-4-cifar": ("cfg/wrn-28-4-cifar.cfg", "cfg/wrn-28-4-cifar-k%d.cfg", [1, 3]),
    "mnist-small-params": ("cfg/mnist-small-params.cfg", None, [1]),
    "mnist-small-flops": ("cfg/mnist-small-flops.cfg", None, [1]),
}
# plain networks matched to a family's K=2 CCNN in trained parameters and in
# forward multiply-adds (scripts/gen_cfgs.py); --twins adds them, at sigma 0
TWINS = {"mnist-small": ["mnist-small-params", "mnist-small-flops"]}
ITERATION_LINE = re.compile(r"^\s*(\d+), [0-9.]+: ")


# ---- the grid ---------------------------------------------------------------

def sigma_name(s):
    return "%g" % s


def make_cells(args):
    """The cells: dicts with name, family, K, sigma, noise."""
    if args.table == 2:
        families = ["wrn-40-4-cifar", "wrn-28-4-cifar"]
    else:
        families = ["mnist-small" if args.dataset == "fashion-mnist" else "resnet18-cifar"]
    cells = []
    for fam in families:
        ks = args.k or FAMILIES[fam][2]
        for sigma in args.sigma:
            for k in ks:
                cells.append({"name": "%s_k%d_s%s" % (fam, k, sigma_name(sigma)), "family": fam,
                              "K": k, "sigma": sigma, "noise": "weight" if sigma > 0 else None})
        if args.baseline:
            s = args.baseline_sigma
            cells.append({"name": "%s_noise_s%s" % (fam, sigma_name(s)), "family": fam,
                          "K": 1, "sigma": s, "noise": "gradient"})
        for twin in TWINS.get(fam, []) if args.twins and 0 in args.sigma else []:
            cells.append({"name": "%s_k1_s0" % twin, "family": twin, "K": 1, "sigma": 0.0, "noise": None})
    if args.cells:
        wanted = args.cells.split(",")
        unknown = [w for w in wanted if not any(c["name"].endswith(w) for c in cells)]
        if unknown:
            raise SystemExit("error: --cells: no cell named %s; the cells are: %s"
                             % (", ".join(unknown), " ".join(c["name"] for c in cells)))
        cells = [c for c in cells if any(c["name"] == w or c["name"].endswith(("_" + w, "-" + w)) for w in wanted)]
    return cells


# ---- cfg variants -----------------------------------------------------------

def sections(text):
    """[(header, [lines])] of a cfg text; header None for lines before the first section."""
    out = [(None, [])]
    for line in text.splitlines():
        if line.strip().startswith("["):
            out.append((line.strip(), []))
        else:
            out[-1][1].append(line)
    return out


def key_of(line):
    return line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None


def set_keys(lines, values, drop=()):
    """lines with each key of values set (replaced, or added at the top)
    and the keys of drop removed."""
    kept = [l for l in lines if key_of(l) not in values and key_of(l) not in drop]
    return ["%s=%s" % kv for kv in values.items()] + kept


def net_values(cell, seed, iterations, net_lines):
    values = {"seed": seed, "max_batches": iterations}
    if cell["sigma"] > 0:
        values.update(optimizer="csgd", sigma=sigma_name(cell["sigma"]), noise=cell["noise"])
    else:
        values["optimizer"] = "sgd"
    old = dict((key_of(l), l.split("=", 1)[1].strip()) for l in net_lines if key_of(l))
    if old.get("policy") == "steps" and "steps" in old:
        # the learning-rate drops keep their place in the budget (32k and 48k of 64k: 1/2 and 3/4)
        scale = iterations / float(old["max_batches"])
        values["steps"] = ",".join(str(max(1, int(round(int(s) * scale)))) for s in old["steps"].split(","))
    return values


def cell_cfg(cell, seed, iterations, classes):
    plain, ccnn, _ = FAMILIES[cell["family"]]
    src = plain if cell["K"] == 1 else (ccnn % cell["K"] if "%d" in ccnn else ccnn)
    text = open(os.path.join(ROOT, src)).read()
    parts = sections(text)
    head = max(i for i, (h, _) in enumerate(parts) if h in ("[convolutional]", "[connected]"))
    out = ["# scripts/reproduce.py: cell %s, seed %d, from %s with branches, optimizer, sigma, noise,"
           % (cell["name"], seed, src), "# seed and max_batches set for the cell"]
    for i, (header, lines) in enumerate(parts):
        if header == "[net]":
            # sigma=0 is plain sgd: no noise keys left to act on
            lines = set_keys(lines, net_values(cell, seed, iterations, lines),
                             drop=("sigma", "noise", "noise_gamma") if cell["sigma"] == 0 else ())
        elif header == "[gcconv]":
            lines = set_keys(lines, {"branches": cell["K"]})
        if i == head and classes:
            key = "filters" if header == "[convolutional]" else "output"
            lines = set_keys(lines, {key: classes})
        if header:
            out.append(header)
        out.extend(lines)
    return src, "\n".join(out) + "\n"


def read_data_file(path):
    values = {}
    for line in open(path):
        if "=" in line:
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    return values


# ---- one run ----------------------------------------------------------------

def weights_seen(path):
    """`seen` (images) from a darknet weights header."""
    with open(path, "rb") as f:
        head = f.read(20)
    major, minor = int.from_bytes(head[0:4], "little"), int.from_bytes(head[4:8], "little")
    if major * 10 + minor >= 2:
        return int.from_bytes(head[12:20], "little")
    return int.from_bytes(head[12:16], "little")


def resume_point(run_dir, batch, iterations):
    """The latest save with its training-state file: (path, iteration) or None."""
    best = None
    for name in os.listdir(run_dir):
        if not re.fullmatch(r"net(_\d+|_best)?\.weights|net\.backup", name):
            continue
        path = os.path.join(run_dir, name)
        if not os.path.exists(path + ".state"):
            continue
        it = weights_seen(path) // batch
        if 0 < it <= iterations and (best is None or it > best[1]):
            best = (path, it)
    return best


class Run:
    def __init__(self, out, cell, seed, iterations, data, classes):
        self.cell, self.seed, self.iterations = cell, seed, iterations
        self.name = "%s_seed%d" % (cell["name"], seed)
        self.dir = os.path.join(out, "runs", self.name)
        self.src, self.cfg_text = cell_cfg(cell, seed, iterations, classes)
        self.cfg = os.path.join(self.dir, "net.cfg")
        self.metrics = os.path.join(self.dir, "net.metrics.jsonl")
        self.test_json = os.path.join(self.dir, "test.json")
        self.data = data
        self.batch = int(dict((key_of(l), l.split("=", 1)[1]) for l in self.cfg_text.splitlines()
                              if key_of(l))["batch"])

    def records(self):
        if not os.path.exists(self.metrics):
            return []
        return [json.loads(l) for l in open(self.metrics) if l.strip()]

    def trained(self):
        return any(r["type"] == "end" and r["iteration"] >= self.iterations for r in self.records())

    def finished(self):
        return self.trained() and os.path.exists(self.test_json)

    def prepare(self, eval_list, test_list):
        """Writes the cfg and .data files; a cfg that changed starts the run afresh."""
        if os.path.exists(self.cfg) and open(self.cfg).read() != self.cfg_text:
            print("\nnote: %s: the cfg changed since this run was started; starting it again" % self.name,
                  file=sys.stderr)
            shutil.rmtree(self.dir)
        os.makedirs(self.dir, exist_ok=True)
        if not os.path.exists(self.cfg):
            with open(self.cfg, "w") as f:
                f.write(self.cfg_text)
        base = "".join("%s=%s\n" % (k, v) for k, v in self.data.items()
                       if k not in ("valid", "backup", "test"))
        for name, valid in (("net.data", eval_list), ("test.data", test_list)):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(base + "valid=%s\nbackup=%s\n" % (valid, self.dir))


class Progress:
    """One line for the whole grid: runs and iterations done, the measured
    rate of this invocation and the time left at that rate."""

    def __init__(self, runs, iterations):
        self.runs_total, self.its_total = runs, iterations
        self.runs_done, self.its_before = 0, 0
        self.its_now, self.start, self.last = 0, time.time(), 0.0
        self.ran = 0                      # iterations trained by this invocation

    def line(self, what):
        done = self.its_before + self.its_now
        elapsed = time.time() - self.start
        rate = self.ran / elapsed if elapsed > 0 and self.ran else 0
        eta = "%d:%02d:%02d" % ((self.its_total - done) / rate // 3600, (self.its_total - done) / rate // 60 % 60,
                                (self.its_total - done) / rate % 60) if rate else "-"
        return ("grid: runs %d/%d, iterations %d/%d, %.1f it/s, ETA %s, %s"
                % (self.runs_done, self.runs_total, done, self.its_total, rate, eta, what))

    def show(self, what, force=False):
        if force or time.time() - self.last >= 0.5:
            self.last = time.time()
            sys.stderr.write("\r\033[K" + self.line(what) if sys.stderr.isatty() else self.line(what) + "\n")
            sys.stderr.flush()


def train(run, darknet, valid_every, progress):
    """classifier train, from the last save when there is one."""
    cmd = [darknet, "classifier", "train", os.path.join(run.dir, "net.data"), run.cfg,
           "-valid_every", "%.6g" % valid_every, "-dont_show"]
    start = 0
    point = resume_point(run.dir, run.batch, run.iterations)
    if point:
        cmd.append(point[0])
        start = point[1]
        print("\nnote: %s: resuming from %s (iteration %d)" % (run.name, os.path.basename(point[0]), start),
              file=sys.stderr)
    elif os.path.exists(run.metrics):
        os.remove(run.metrics)            # stopped before its first save: start clean
    progress.its_now = start
    with open(os.path.join(run.dir, "machine.json"), "w") as f:   # where its training time was measured
        json.dump({"cpu": cpu_model(), "threads": os.environ.get("OMP_NUM_THREADS", "all")}, f)
    with open(os.path.join(run.dir, "train.log"), "a") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, text=True)
        for line in proc.stdout:
            log.write(line)
            m = ITERATION_LINE.match(line)
            if m:
                it = int(m.group(1))
                progress.ran += max(0, it - progress.its_now)
                progress.its_now = it
                progress.show("%s at %d/%d" % (run.name, it, run.iterations))
        status = proc.wait()
    if status != 0 or not run.trained():
        raise SystemExit("\nerror: %s: classifier train failed (status %d); see %s"
                         % (run.name, status, os.path.join(run.dir, "train.log")))


def test(run, darknet):
    cmd = [darknet, "classifier", "valid", os.path.join(run.dir, "test.data"), run.cfg,
           os.path.join(run.dir, "net.weights"), "-quiet", "-json", run.test_json + ".tmp"]
    with open(os.path.join(run.dir, "test.log"), "w") as log:
        status = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if status != 0:
        raise SystemExit("\nerror: %s: classifier valid failed (status %d); see %s/test.log"
                         % (run.name, status, run.dir))
    os.replace(run.test_json + ".tmp", run.test_json)


# ---- training time on an idle machine (--time) -----------------------------

TIME_WARMUP = 10   # iterations left out of a timing: the first batches, the caches filling


def time_cells(out, cells, data, classes, iterations, rounds, darknet):
    """Seconds per training iteration of each cell on this machine, for the
    cost table (timing.json): `iterations` iterations of `classifier train`
    after TIME_WARMUP, without evaluations, each iteration's `iteration_seconds`
    of the metrics log (the step and the wait for its batch) summed; the cells
    taken in turn for `rounds` rounds, so that a drift of the machine's speed
    falls on all of them alike; the median of each cell's rounds.  Meant for a
    machine with nothing else running: the grid's own runs share it with
    whatever else runs, so their times do not measure the cost."""
    tdir = os.path.join(out, "timing")
    measured = {c["name"]: [] for c in cells}
    for rnd in range(rounds):
        for cell in cells:
            r = Run(tdir, cell, 1, iterations + TIME_WARMUP, data, classes)
            shutil.rmtree(r.dir, ignore_errors=True)
            r.prepare(data["valid"], data["valid"])
            sys.stderr.write("timing: round %d/%d, %s\n" % (rnd + 1, rounds, cell["name"]))
            with open(os.path.join(r.dir, "train.log"), "w") as log:
                status = subprocess.call([darknet, "classifier", "train", os.path.join(r.dir, "net.data"), r.cfg,
                                          "-dont_show"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            its = [x for x in grid_report.last_per_iteration(r.records(), "iteration") if x["iteration"] > TIME_WARMUP]
            if status != 0 or len(its) != iterations:
                raise SystemExit("error: timing %s: classifier train failed (status %d); see %s/train.log"
                                 % (cell["name"], status, r.dir))
            measured[cell["name"]].append(sum(x["iteration_seconds"] for x in its) / iterations)
    timing = {"cpu": cpu_model(), "threads": os.environ.get("OMP_NUM_THREADS", "all"),
              "iterations": iterations, "warmup": TIME_WARMUP, "rounds": rounds,
              "cells": {name: {"seconds_per_iteration": sorted(v)[len(v) // 2], "rounds": v}
                        for name, v in measured.items()}}
    with open(os.path.join(out, "timing.json"), "w") as f:
        json.dump(timing, f, indent=1)
    shutil.rmtree(tdir, ignore_errors=True)


# ---- main -------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="fashion-mnist")
    ap.add_argument("--data", help="the .data file (default: the converted dataset's)")
    ap.add_argument("--table", type=int, choices=(1, 2), default=1,
                    help="1: ResNet-18 (mnist-small on Fashion-MNIST); 2: WRN-40-4 and WRN-28-4 (CIFAR)")
    ap.add_argument("--iterations", type=int, help="training iterations a run (default: the cfg's max_batches)")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--k", help="branch counts (default 1,2,4,8; Table 2: 1,2 and 1,3)")
    ap.add_argument("--sigma", default="0,0.0001,0.001", help="sigma values (0: plain sgd)")
    ap.add_argument("--no-baseline", dest="baseline", action="store_false",
                    help="leave out the plain network with gradient noise")
    ap.add_argument("--baseline-sigma", type=float, default=0.001)
    ap.add_argument("--twins", action="store_true",
                    help="add the plain networks matched to the K=2 CCNN in parameters and in multiply-adds")
    ap.add_argument("--cells", help="only these cells (full names or their ends, e.g. k2_s0.0001,noise_s0.001)")
    ap.add_argument("--evals", type=int, default=20, help="evaluations during each run (the test curve)")
    ap.add_argument("--eval-images", type=int, default=2000,
                    help="the first N test images for the curve (0: all); the final error uses all")
    ap.add_argument("--test-list", help="the test images (default: test= of the .data file, else valid=)")
    ap.add_argument("--out", help="default results/reproduce-DATASET[-table2]")
    ap.add_argument("--darknet", default=os.path.join(ROOT, "darknet"))
    ap.add_argument("--list", action="store_true", help="print the runs and their state, run nothing")
    ap.add_argument("--report", action="store_true",
                    help="run nothing: write the report of the runs done so far (and those of --reuse)")
    ap.add_argument("--time", type=int, default=0, metavar="N",
                    help="run no grid: time N training iterations of each cell on this machine, which should be "
                         "otherwise idle (timing.json; the report's cost table uses it), then write the report")
    ap.add_argument("--time-rounds", type=int, default=3, help="rounds of --time, the cells in turn (default 3)")
    ap.add_argument("--reuse", action="append", default=[],
                    help="a results.json whose runs (same cell, seed and iterations) count as done")
    args = ap.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.sigma = [float(s) for s in args.sigma.split(",")]
    args.k = [int(k) for k in args.k.split(",")] if args.k else None
    if args.table == 2 and args.dataset == "fashion-mnist":
        raise SystemExit("error: --table 2 is for CIFAR (--dataset cifar10 or cifar100)")
    return args


def dataset_files(args):
    data_path = os.path.abspath(args.data or os.path.join(ROOT, DATASETS[args.dataset]))
    if not os.path.exists(data_path):
        if args.dataset != "fashion-mnist" or args.data:
            raise SystemExit("error: %s: no such file; convert the dataset first (scripts/cifar.py, "
                             "docs/datasets.md)" % data_path)
        subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts/fashion_mnist.py"),
                               os.path.dirname(data_path)])
    data = read_data_file(data_path)
    test_list = args.test_list or data.get("test") or data["valid"]
    return data_path, data, os.path.abspath(test_list)


def eval_list_for(out, test_list, n):
    if n <= 0:
        return test_list
    lines = open(test_list).read().splitlines()[:n]
    path = os.path.join(out, "eval-%d.list" % n)
    text = "".join(l + "\n" for l in lines)
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)
    return path


def reused_results(paths, runs):
    """{run name: its result} from earlier results.json files (docs/results:
    the runs are kept as their results, not their folders), for the runs of
    this grid with the same cell, seed and iterations that are not finished
    here."""
    wanted = {(r.cell["name"], r.seed, r.iterations): r for r in runs if not r.finished()}
    known = {}
    for path in paths:
        for res in json.load(open(path))["runs"]:
            r = wanted.get((res["cell"], res["seed"], res["iterations"]))
            if r is not None:
                known[r.name] = dict(res, batch=res.get("batch", r.batch))
    return known


def cell_costs(runs, darknet):
    """Each cell's trained parameters and forward multiply-adds, as
    `darknet netcheck` counts them on the cell's cfg."""
    costs = {}
    for r in runs:
        if r.cell["name"] in costs or not os.path.exists(r.cfg):
            continue
        out = subprocess.run([darknet, "netcheck", r.cfg, "-steps", "0"], capture_output=True, text=True).stdout
        m = re.search(r"(\d+) parameters, (\d+) multiply-adds", out)
        if m:
            costs[r.cell["name"]] = {"parameters": int(m.group(1)), "multiply_adds": int(m.group(2))}
    return costs


def cpu_model():
    try:
        return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


def main():
    args = parse_args()
    data_path, data, test_list = dataset_files(args)
    out = os.path.abspath(args.out or os.path.join(
        ROOT, "results", "reproduce-%s%s" % (args.dataset, "-table2" if args.table == 2 else "")))
    os.makedirs(out, exist_ok=True)
    classes = int(data.get("classes", 10))
    cells = make_cells(args)
    if not cells:
        raise SystemExit("error: no cells to run")
    iterations = args.iterations
    runs = []
    for seed in args.seeds:   # a seed's cells together: each finished seed adds a pair to every comparison
        for cell in cells:
            probe = Run(out, cell, seed, iterations or 1, data, classes)
            its = iterations or int(re.search(r"^max_batches=(\d+)", open(os.path.join(ROOT, probe.src)).read(),
                                              re.M).group(1))
            runs.append(Run(out, cell, seed, its, data, classes))
    known = reused_results(args.reuse, runs)
    if args.list:
        for r in runs:
            state = "done" if r.finished() else "done earlier (--reuse)" if r.name in known else "to run"
            print("%-40s %6d iterations  %s" % (r.name, r.iterations, state))
        return
    eval_list = eval_list_for(out, test_list, args.eval_images)
    train_images = sum(1 for l in open(data["train"]) if l.strip())
    if args.time > 0:
        time_cells(out, cells, data, classes, args.time, args.time_rounds, args.darknet)
        args.report = True
    if args.report:
        runs = [r for r in runs if r.finished() or r.name in known]
        if not runs:
            raise SystemExit("error: --report: no run of this grid is done")
    progress = Progress(len(runs), sum(r.iterations for r in runs))
    if args.report:
        progress.runs_done, progress.its_before = len(runs), sum(r.iterations for r in runs)
    for r in runs if not args.report else []:
        if r.finished() or r.name in known:
            progress.runs_done += 1
            progress.its_before += r.iterations
            continue
        r.prepare(eval_list, test_list)
        if not r.trained():
            epochs = r.iterations * r.batch / float(train_images)
            train(r, args.darknet, epochs / max(1, args.evals), progress)
        progress.its_now = 0
        progress.its_before += r.iterations
        progress.show("%s: testing" % r.name, force=True)
        test(r, args.darknet)
        progress.runs_done += 1
    progress.show("all runs done", force=True)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    grid_report.write_all(out, runs, known, {"dataset": args.dataset, "data": data_path, "table": args.table,
                                     "test_list": test_list, "eval_list": eval_list, "seeds": args.seeds,
                                     "train_images": train_images, "costs": cell_costs(runs, args.darknet)})


if __name__ == "__main__":
    main()
