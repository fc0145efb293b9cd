#!/bin/sh
# The command line explains itself: `./darknet help`, `-h` and `--help` list
# every command, ours (src/registry.c's table) and upstream's, each with its
# line; a missing or unknown command lists them too and exits with status 1;
# and each of our commands, run without its arguments, prints a usage that
# names every option its source reads.
. "$(dirname "$0")/lib.sh"

# Our commands as the registry declares them: "WORD SUBWORD FUNCTION".
sed -n 's/^ *{"\([a-z]*\)", \(NULL\|"[a-z]*"\), \([a-z_]*\), ".*"},$/\1 \2 \3/p' src/registry.c |
    tr -d '"' | sed 's/ NULL / /' > "$WORK/commands"
[ "$(wc -l < "$WORK/commands")" -ge 7 ] && pass registry_commands_read ||
    fail registry_commands_read "read $(wc -l < "$WORK/commands") commands from src/registry.c"

# lists_every_command FILE: each of ours with its registry line, and upstream's
lists_every_command() {
    missing=
    while read -r line; do
        name=${line% *}
        help=$(grep -F "\"$(echo "$name" | sed 's/ /", "/')\"" src/registry.c | sed 's/.*, "\(.*\)"},$/\1/')
        grep -F -- "$help" "$1" | grep -q "^  $name  " || missing="$missing [$name]"
    done < "$WORK/commands"
    for up in "detector test" "detector valid" "detector recall" "detect CFG" "classify CFG" \
              "yolo|coco" "|partial|" "|visualize|"; do
        grep -qF "$up" "$1" || missing="$missing [$up]"
    done
    [ -z "$missing" ] || { echo "$missing"; return 1; }
}

for arg in help -h --help; do
    ./darknet "$arg" > "$WORK/help$arg.out" 2> "$WORK/help$arg.err"
    status=$?
    out=$(lists_every_command "$WORK/help$arg.out")
    [ "$status" = 0 ] && [ -z "$out" ] && [ ! -s "$WORK/help$arg.err" ] && pass "help_lists_commands$arg" ||
        fail "help_lists_commands$arg" "status $status, missing:$out"
done

./darknet > "$WORK/none.out" 2>&1
status=$?
out=$(lists_every_command "$WORK/none.out")
[ "$status" = 1 ] && [ -z "$out" ] && pass no_command_lists_commands ||
    fail no_command_lists_commands "status $status, missing:$out"

./darknet frobnicate > "$WORK/unknown.out" 2>&1
status=$?
out=$(lists_every_command "$WORK/unknown.out")
[ "$status" = 1 ] && grep -qF "darknet: error: frobnicate: not a command" "$WORK/unknown.out" && [ -z "$out" ] &&
    pass unknown_command_names_it || fail unknown_command_names_it "status $status, missing:$out"

# Each option string a command's source reads (find_*_arg and det_arg_*
# calls in the file that defines its function) must appear in its usage.
while read -r line; do
    func=${line##* }
    name=${line% *}
    file=$(grep -l "^void $func(int argc, char \*\*argv)" src/*/*.c src/*.c 2>/dev/null | head -1)
    opts=$(grep -o '\(find_\([a-z]*_\)\{0,1\}arg\|det_arg_[a-z]*\)(argc, argv, "-[a-z_0-9]*"' "$file" |
           sed 's/.*"\(-[a-z_0-9]*\)"/\1/' | sort -u)
    # shellcheck disable=SC2086
    ./darknet $name > "$WORK/usage.out" 2>&1
    status=$?
    missing=
    for o in $opts; do grep -q -- "$o\\b" "$WORK/usage.out" || missing="$missing $o"; done
    tag=$(echo "$name" | tr ' ' _)
    [ "$status" = 1 ] && grep -q "usage:" "$WORK/usage.out" && [ -n "$opts" ] && [ -z "$missing" ] &&
        pass "usage_names_options_$tag" ||
        fail "usage_names_options_$tag" "status $status, options read in $file: $(echo $opts); not in the usage:$missing"
done < "$WORK/commands"
