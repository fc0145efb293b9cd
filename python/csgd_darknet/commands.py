"""The ./darknet commands the package runs in a child process: training,
folding, and the check made before a network is loaded in this process."""
import json
import os
import re
import subprocess
import time

from ._library import program_path
from .errors import DarknetError, error_line


def run(*args):
    """Runs ./darknet ARGS; its standard output, or DarknetError with its
    error line when it fails."""
    done = subprocess.run([program_path()] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace")
    if done.returncode != 0:
        raise DarknetError(error_line(done.stderr + done.stdout, done.returncode))
    return done.stdout


def check_network(cfg, weights=None):
    """Parses the cfg and loads the weights in a child process (`./darknet
    netcheck CFG [WEIGHTS] -steps 0`), so that what the library would stop
    the process for stops the child instead."""
    for path in (cfg, weights):
        if path is not None and not os.path.isfile(path):
            raise DarknetError("%s: no such file" % path)
    run("netcheck", cfg, *([weights] if weights else []), "-steps", 0)


def fold(cfg, weights, out_cfg, out_weights, keep=False):
    """`./darknet gcfold`: every [gcconv] becomes a [convolutional] that
    computes the same (docs/deploy.md); keep leaves [gcmerge] as it is."""
    run("gcfold", cfg, weights, out_cfg, out_weights, *(["-keep"] if keep else []))
    return out_cfg, out_weights


def _sections(cfg):
    with open(cfg) as f:
        return {m.group(1).strip().lower() for m in re.finditer(r"^\s*\[([^\]]+)\]", f.read(), re.M)}


def _data_value(data, key, default):
    with open(data) as f:
        for line in f:
            name, _, value = line.partition("=")
            if name.strip() == key:
                return value.strip()
    return default


def _flags(options):
    args = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        args.append("-" + key)
        if value is not True:
            args.append(str(value))
    return args


def _follow(path, start, process):
    """The JSON lines appended to path after byte `start`, as they are
    written, until the process ends."""
    at, pending = start, ""
    while True:
        ended = process.poll() is not None
        if os.path.exists(path):
            with open(path) as f:
                f.seek(at)
                chunk = f.read()
                at = f.tell()
            pending += chunk
            *lines, pending = pending.split("\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)
        if ended:
            return
        time.sleep(0.2)


def train(data, cfg, weights=None, detector=None, **options):
    """Runs `./darknet classifier train` (or `detector train`, for a cfg with
    [yolo], [region], [detection] or [rcnn], or with detector=True) and
    yields the records of its metrics log (docs/training.md) as they are
    written: start, one a line iteration, evaluations, end.  The last item
    is {"type": "weights", "path": ...}, the weights it saved last.
    Keyword options become flags: valid_every=0.5 is -valid_every 0.5,
    dont_show=True is -dont_show.  Raises DarknetError with the command's
    error line when it fails."""
    if detector is None:
        detector = bool(_sections(cfg) & {"yolo", "region", "detection", "rcnn"})
    backup = _data_value(data, "backup", "/backup/")
    name = os.path.splitext(os.path.basename(cfg))[0]
    log = os.path.join(backup, name + ".metrics.jsonl")
    start = os.path.getsize(log) if os.path.exists(log) else 0
    args = [program_path(), "detector" if detector else "classifier", "train", data, cfg]
    args += ([weights] if weights else []) + _flags(options)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
    stderr = []
    reader = _Drain(process.stderr, stderr)
    try:
        yield from _follow(log, start, process)
    finally:
        if process.poll() is None:   # the caller stopped early: so does the run
            process.terminate()
        process.wait()
        reader.join()
        process.stderr.close()
    if process.returncode != 0:
        raise DarknetError(error_line("".join(stderr), process.returncode))
    final = name + ("_final.weights" if detector else ".weights")
    yield {"type": "weights", "path": os.path.join(backup, final)}


class _Drain:
    """Reads a pipe to its end in a thread, so that the child never blocks
    on a full pipe."""

    def __init__(self, pipe, into):
        import threading
        self.thread = threading.Thread(target=lambda: into.extend(pipe), daemon=True)
        self.thread.start()

    def join(self):
        self.thread.join()
