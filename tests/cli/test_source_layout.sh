#!/bin/sh
# The source tree keeps its shape: no function of ours longer than about 80
# lines, and includes that point one way (commands, then the training loop,
# then layers and the optimizer, then kernels): a kernel folder includes no
# layer, optimizer, loop or command header, and only registry.c includes
# the commands.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 - > "$WORK/layout.out" 2>&1 <<'PYEOF'
import glob, re, sys
LIMIT = 85
long_ones = []
for f in sorted(glob.glob("src/**/*.c", recursive=True) + glob.glob("src/**/*.cu", recursive=True)):
    lines = open(f).read().split("\n")
    start = None
    for i, l in enumerate(lines):
        if start is None and l.startswith("{") and i > 0:
            start = i
        elif start is not None and l.startswith("}"):
            if i - start + 1 > LIMIT:
                long_ones.append("%s:%d: %d lines" % (f, start, i - start + 1))
            start = None
print("long functions:", long_ones or "none")
# folder -> folders it may include
allowed = {
    "cpu": {"cpu"}, "gpu": {"gpu", "optim", "layers"}, "input": {"input"},
    "optim": {"optim", "input"}, "layers": {"layers", "cpu", "gpu", "input", "optim"},
    "dist": {"dist", "optim", "input"},
    "train": {"train", "dist", "optim", "input"}, "classify": {"classify", "train", "dist", "optim", "input"},
    "detect": {"detect", "train", "dist", "optim", "input"},
    "deploy": {"deploy", "train", "optim", "input", "layers", "cpu"},
}
bad = []
for f in glob.glob("src/*/*.[ch]") + glob.glob("src/*/*.cu"):
    folder = f.split("/")[1]
    for inc in re.findall(r'#include "([a-z_]+)/[a-z_]+\.h"', open(f).read()):
        if inc not in allowed[folder]:
            bad.append("%s includes %s/" % (f, inc))
for f in glob.glob("src/*.[ch]") + glob.glob("src/*/*.[ch]"):
    if f != "src/registry.c" and re.search(r'#include "(classify|detect)/', open(f).read()) \
            and not f.startswith(("src/classify/", "src/detect/")):
        bad.append("%s includes a command" % f)
print("includes against the direction:", bad or "none")
sys.exit(1 if long_ones or bad else 0)
PYEOF
status=$?
grep -q "long functions: none" "$WORK/layout.out" && pass functions_short || fail functions_short "$(grep 'long functions' "$WORK/layout.out")"
grep -q "direction: none" "$WORK/layout.out" && pass includes_one_way || fail includes_one_way "$(grep 'direction' "$WORK/layout.out")"
[ "$status" -eq 0 ] && pass layout_check_ran || fail layout_check_ran "$(tail -3 "$WORK/layout.out")"
