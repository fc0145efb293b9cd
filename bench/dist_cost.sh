#!/bin/sh
# The cost model of docs/distributed.md for the shipped cfgs: gradient bytes
# per step (G: 4 bytes a trained parameter, from `darknet netcheck`), the
# compute time of one training step on this machine (netcheck's second
# step, the first being a warm-up; cfgs listed in DIST_COST_SKIP_TIME only
# get their size), and what each rank receives per step at one pass per
# rank (s = 1) and the time it takes:
#   old, the ordered gather of every pass's gradient: (N-1) x s x G bytes
#     in N-1 messages;
#   new, the fixed-order reduce-scatter and allgather: (N-1)/N x (s+1) x G
#     bytes in 2(N-1) messages, a ring allreduce's traffic at s = 1;
# time = bytes x 8 / bandwidth + messages x latency.  Writes a markdown
# table on stdout.  The small per-pass gather of batch-norm statistics and
# costs is left out (counted in the metrics log, docs/training.md).
#   bench/dist_cost.sh [CFG...]          (default: every cfg in git's cfg/)
#   bench/dist_cost.sh -bytes N S CFG    the new exchange's gradient bytes
#                                        received per rank per step
# Environment: DIST_COST_THREADS (default 2), DIST_COST_LATENCY_US (per
# message, default 20), DIST_COST_SKIP_TIME (a grep -E pattern).
set -eu
cd "$(dirname "$0")/.."
THREADS=${DIST_COST_THREADS:-2}
LAT=${DIST_COST_LATENCY_US:-20}
SKIP=${DIST_COST_SKIP_TIME:-^$}

parameters() {
    ./darknet netcheck "$1" -steps 0 2>/dev/null | sed -n 's/.* \([0-9]*\) parameters.*/\1/p'
}

if [ "${1:-}" = -bytes ]; then
    [ $# -eq 4 ] || { echo "usage: bench/dist_cost.sh -bytes N S CFG" >&2; exit 1; }
    p=$(parameters "$4")
    [ -n "$p" ] || { echo "dist_cost: $4: netcheck failed" >&2; exit 1; }
    awk -v p="$p" -v n="$2" -v s="$3" 'BEGIN { printf "%.0f\n", (n - 1) / n * (s + 1) * 4 * p }'
    exit 0
fi

[ $# -gt 0 ] || set -- $(git ls-files 'cfg/*.cfg')
echo "| cfg | parameters | gradient MB | compute s/step (here, $THREADS threads) | N | old: MB received a rank | new: MB received a rank | old 10 Gb/s | new 1 Gb/s | new 10 Gb/s | new 100 Gb/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for cfg in "$@"; do
    params=$(parameters "$cfg")
    [ -n "$params" ] || { echo "dist_cost: $cfg: netcheck failed" >&2; continue; }
    if echo "$cfg" | grep -qE "$SKIP"; then secs="-"; else
        secs=$(OMP_WAIT_POLICY=passive ./darknet netcheck "$cfg" -steps 2 -threads "$THREADS" 2>/dev/null |
            sed -n 's/^netcheck: step 2: .*, \([0-9.]*\) seconds.*/\1/p')
    fi
    for n in 2 4 8 16 32 64; do
        awk -v p="$params" -v n="$n" -v lat="$LAT" -v cfg="$cfg" -v secs="${secs:--}" 'BEGIN {
            g = 4 * p; s = 1
            old = (n - 1) * s * g; new = (n - 1) / n * (s + 1) * g
            old_lat = (n - 1) * lat * 1e-6; new_lat = 2 * (n - 1) * lat * 1e-6
            if (n == 2) printf "| %s | %d | %.1f | %s |", cfg, p, g / 1e6, secs
            else printf "| | | | |"
            printf " %d | %.1f | %.1f | %.4f s | %.3f s | %.4f s | %.5f s |\n", n, old / 1e6, new / 1e6,
                old * 8 / 1e10 + old_lat, new * 8 / 1e9 + new_lat, new * 8 / 1e10 + new_lat, new * 8 / 1e11 + new_lat }'
    done
done
