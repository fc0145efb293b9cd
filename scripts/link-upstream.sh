#!/bin/sh
# Makes upstream's cfgs, .data files, names, label alphabet and sample
# images reachable at their upstream paths from the repository root, so
# that Darknet's documented commands run verbatim:
#   cfg/NAME  -> build/darknet/cfg/NAME, for each upstream cfg/ file that
#                cfg/ does not hold already (ours win a name clash)
#   data/NAME -> build/darknet/data/NAME, for each upstream data/ entry
# and the backup/ and results/ folders that upstream's Makefile makes.
# They are links, never copies, and git ignores them: cfg/.gitignore (made
# here, ignoring itself) lists the cfg/ links; data/ is ignored as a whole.
#   scripts/link-upstream.sh TREE       make the links (TREE: build/darknet)
#   scripts/link-upstream.sh --remove   remove them
set -eu
cd "$(dirname "$0")/.."

remove_links() {
    for f in cfg/* cfg/.gitignore data/*; do
        if [ -L "$f" ]; then rm -f "$f"; fi
    done
    rm -f cfg/.gitignore
    rmdir data 2>/dev/null || true
}

if [ "${1:-}" = "--remove" ]; then
    remove_links
    exit 0
fi
tree=${1:?usage: $0 TREE | --remove}
[ -d "$tree/cfg" ] && [ -d "$tree/data" ] || { echo "$0: $tree has no cfg/ and data/" >&2; exit 1; }
case "$tree" in /*) up=$tree ;; *) up=../$tree ;; esac
# Links left from an earlier tree (or pointing nowhere) go first.
remove_links
# upstream's Makefile makes these two: detector valid writes to results/
mkdir -p data backup results
ignore="/.gitignore"
for f in "$tree"/cfg/*; do
    name=$(basename "$f")
    [ -e "cfg/$name" ] && continue
    ln -s "$up/cfg/$name" "cfg/$name"
    ignore="$ignore
/$name"
done
printf '# Links to upstream cfgs, made by scripts/link-upstream.sh (never committed).\n%s\n' "$ignore" > cfg/.gitignore
for f in "$tree"/data/*; do
    name=$(basename "$f")
    [ -e "data/$name" ] && continue
    ln -s "$up/data/$name" "data/$name"
done
