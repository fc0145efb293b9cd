#!/bin/sh
# Fetch Darknet's source exactly as Debian ships it (upstream tarball plus
# Debian's patches), verified by apt, into DEST.  The system's apt
# configuration is never touched: we derive a private deb-src list from the
# machine's own sources and give apt private state and cache folders.
#
# usage: fetch-darknet.sh DEST [CACHE_DIR]
set -eu
PKG=darknet
VERSION=0.0.0+git20180914.61c9d02e-2
DEST=${1:?usage: fetch-darknet.sh DEST [CACHE_DIR]}
CACHE=${2:-$(dirname "$DEST")/apt}
mkdir -p "$CACHE" && CACHE=$(cd "$CACHE" && pwd)   # apt resolves relative paths against /etc/apt

say() { echo "fetch-darknet: $*" >&2; }
die() {
    say "error: $*"
    say "tried: apt-get source $PKG=$VERSION with deb-src entries derived from /etc/apt/sources.list{,.d}"
    say "fix: check the network reaches your Debian mirror, that the mirror serves source"
    say "     packages (deb-src) for bookworm or later, or build from a local tree with"
    say "     make DARKNET_SRC=/path/to/darknet   (pjreddie/darknet at commit 61c9d02e)"
    exit 1
}

command -v apt-get >/dev/null || die "apt-get not found (this build expects a Debian-based system)"
command -v dpkg-source >/dev/null || die "dpkg-source not found: install dpkg-dev (make deps)"

mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial" "$CACHE/sources.list.d" "$CACHE/dl"
: > "$CACHE/sources.list"
# one-line format: turn every 'deb' line into 'deb-src'
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >> "$CACHE/sources.list"
done
# deb822 format: 'Types: deb' -> 'Types: deb-src'
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    sed 's/^Types:.*/Types: deb-src/' "$f" > "$CACHE/sources.list.d/$(basename "$f")"
done

APT_OPTS="-o Dir::Etc::SourceList=$CACHE/sources.list
 -o Dir::Etc::SourceParts=$CACHE/sources.list.d
 -o Dir::State::Lists=$CACHE/lists
 -o Dir::Cache=$CACHE
 -o Dir::Cache::archives=$CACHE/archives
 -o APT::Sandbox::User=root"

dsc=$CACHE/dl/${PKG}_${VERSION}.dsc
if [ ! -f "$dsc" ]; then
    say "updating private source lists in $CACHE"
    # shellcheck disable=SC2086
    apt-get -q $APT_OPTS update >"$CACHE/update.log" 2>&1 \
        || { cat "$CACHE/update.log" >&2; die "apt-get update failed"; }
    say "downloading $PKG $VERSION (apt verifies the archive's signatures and checksums)"
    # shellcheck disable=SC2086
    (cd "$CACHE/dl" && apt-get -q $APT_OPTS source --download-only "$PKG=$VERSION") \
        >"$CACHE/source.log" 2>&1 \
        || { cat "$CACHE/source.log" >&2; die "apt-get source $PKG=$VERSION failed (is that version in your suite?)"; }
fi

rm -rf "$DEST.tmp"
dpkg-source -q -x "$dsc" "$DEST.tmp" >/dev/null 2>"$CACHE/unpack.log" \
    || { cat "$CACHE/unpack.log" >&2; die "dpkg-source could not unpack $dsc"; }
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
say "unpacked $PKG $VERSION with Debian's patches into $DEST"
