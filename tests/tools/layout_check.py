#!/usr/bin/python3
"""The plan of the source tree, checked (tests/cli/test_source_layout.sh).

Every file of src/ belongs to a room: its folder, or for a file at src/
itself its own name ("root:gclayer" for gclayer.c and gclayer.h).  Rooms sit
on levels, from the commands down to the kernels (LEVELS below).  An arrow
from one file to another is an #include of one of our headers, or a call
(or use of a variable) that the linker resolves between two of our object
files, read with nm from the build.  The checks:

- no arrow goes from a room to a room on a higher level;
- no cycle joins rooms, nor files (a .c and its .h count as one file);
- no function is longer than LIMIT lines.

Usage: layout_check.py [--src DIR] [--obj DIR]   (defaults: src, build/obj/our)
Prints what it finds; exits 1 on any fault.
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys

# From the top (the commands) down (the kernels).  A room may use rooms on
# its own level and below, never above.
LEVELS = [
    ("commands", ["root:registry", "classify", "detect", "deploy"]),
    ("training", ["train", "dist"]),
    ("layers and optimizer", ["root:layer_registry", "root:gclayer", "gcconv", "rcnn", "optim", "root:csgd"]),
    ("input", ["input"]),
    ("kernels", ["cpu", "gpu", "rand", "root:ext", "root:checked"]),
]
LIMIT = 85


def room_of(path, src):
    rel = os.path.relpath(path, src).split(os.sep)
    return rel[0] if len(rel) > 1 else "root:" + os.path.splitext(rel[0])[0]


def our_files(src):
    pats = ("*.c", "*.h", "*.cu", "*/*.c", "*/*.h", "*/*.cu")
    return sorted(p for pat in pats for p in glob.glob(os.path.join(src, pat)))


def include_arrows(files, src):
    arrows = set()
    for f in files:
        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', open(f).read(), re.M):
            for cand in (os.path.join(src, inc), os.path.join(os.path.dirname(f), inc)):
                if os.path.exists(cand):
                    arrows.add((f, os.path.normpath(cand), "includes"))
                    break
    return arrows


def call_arrows(src, obj):
    """(caller .c, defining .c, symbol) for each symbol that one of our
    objects uses and another defines."""
    defined, used = {}, collections.defaultdict(set)
    for o in sorted(glob.glob(os.path.join(obj, "**", "*.o"), recursive=True)):
        c = os.path.join(src, os.path.relpath(o, obj))[:-2]
        c = next((c + e for e in (".c", ".cu") if os.path.exists(c + e)), None)
        if c is None:
            continue
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBRC":
                defined[p[2]] = c
            elif len(p) == 2 and p[0] == "U":
                used[c].add(p[1])
    return {(c, defined[s], "calls " + s) for c, syms in used.items() for s in syms
            if s in defined and defined[s] != c}


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def long_functions(files):
    found = []
    for f in files:
        if not f.endswith((".c", ".cu")):
            continue
        start = None
        for i, line in enumerate(open(f).read().split("\n")):
            if start is None and line.startswith("{") and i > 0:
                start = i
            elif start is not None and line.startswith("}"):
                if i - start + 1 > LIMIT:
                    found.append("%s:%d: %d lines" % (f, start, i - start + 1))
                start = None
    return found


def check(src, obj):
    files = our_files(src)
    arrows = include_arrows(files, src)
    if obj:
        arrows |= call_arrows(src, obj)
    level = {room: i for i, (_, rooms) in enumerate(LEVELS) for room in rooms}
    faults = []
    unknown = sorted({room_of(f, src) for f in files} - set(level))
    faults += ["room %s is on no level (tests/tools/layout_check.py, LEVELS)" % r for r in unknown]
    room_graph, file_graph, why = collections.defaultdict(set), collections.defaultdict(set), {}
    against = set()
    for a, b, what in sorted(arrows):
        ra, rb = room_of(a, src), room_of(b, src)
        ua, ub = os.path.splitext(a)[0], os.path.splitext(b)[0]
        if ua != ub:
            file_graph[ua].add(ub)
            why.setdefault((ua, ub), "%s %s" % (a, what if what != "includes" else "includes " + b))
        if ra == rb:
            continue
        room_graph[ra].add(rb)
        why.setdefault((ra, rb), "%s %s" % (a, what if what != "includes" else "includes " + b))
        if ra in level and rb in level and level[rb] < level[ra] and (ra, rb) not in against:
            against.add((ra, rb))
            faults.append("against the order: %s (%s) -> %s (%s): %s"
                          % (ra, LEVELS[level[ra]][0], rb, LEVELS[level[rb]][0], why[(ra, rb)]))
    for kind, graph in (("rooms", room_graph), ("files", file_graph)):
        for comp in cycles(graph):
            links = ["%s" % why[(a, b)] for a in comp for b in sorted(graph[a]) if b in comp]
            faults.append("cycle between %s %s: %s" % (kind, ", ".join(comp), "; ".join(links)))
    faults += ["long function: " + f for f in long_functions(files)]
    return faults, len(files), len(arrows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default="src")
    ap.add_argument("--obj", default="build/obj/our", help="'' to read includes only")
    a = ap.parse_args()
    if a.obj and not glob.glob(os.path.join(a.obj, "**", "*.o"), recursive=True):
        print("layout_check: no objects under %s: run make first" % a.obj)
        return 1
    faults, nfiles, narrows = check(a.src, a.obj)
    print("layout_check: %d files, %d arrows" % (nfiles, narrows))
    for f in faults:
        print(f)
    print("faults: %d" % len(faults))
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
