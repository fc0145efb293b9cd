#!/bin/sh
# The cost model of docs/distributed.md for the shipped cfgs: gradient bytes
# per step (4 bytes a trained parameter, from `darknet netcheck`), the
# compute time of one training step on this machine (netcheck's second
# step, the first being a warm-up; cfgs listed in DIST_COST_SKIP_TIME only
# get their size), and the predicted communication time of a ring
# allreduce, 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency, at 1, 10
# and 100 Gb/s; and, at 10 Gb/s, what this build's ordered gather sends
# (each rank receives the other ranks' per-pass gradients: (N-1) x passes
# per rank x bytes; one pass per rank here).  Writes a markdown table on
# stdout.
#   bench/dist_cost.sh [CFG...]      (default: every cfg in git's cfg/)
# Environment: DIST_COST_THREADS (default 2), DIST_COST_LATENCY_US (per
# message, default 20), DIST_COST_SKIP_TIME (a grep -E pattern).
set -eu
cd "$(dirname "$0")/.."
THREADS=${DIST_COST_THREADS:-2}
LAT=${DIST_COST_LATENCY_US:-20}
SKIP=${DIST_COST_SKIP_TIME:-^$}
[ $# -gt 0 ] || set -- $(git ls-files 'cfg/*.cfg')
echo "| cfg | parameters | gradient MB | compute s/step (here, $THREADS threads) | N | allreduce 1 Gb/s | allreduce 10 Gb/s | allreduce 100 Gb/s | ordered gather 10 Gb/s |"
echo "|---|---|---|---|---|---|---|---|---|"
for cfg in "$@"; do
    params=$(./darknet netcheck "$cfg" -steps 0 2>/dev/null | sed -n 's/.* \([0-9]*\) parameters.*/\1/p')
    [ -n "$params" ] || { echo "dist_cost: $cfg: netcheck failed" >&2; continue; }
    if echo "$cfg" | grep -qE "$SKIP"; then secs="-"; else
        secs=$(OMP_WAIT_POLICY=passive ./darknet netcheck "$cfg" -steps 2 -threads "$THREADS" 2>/dev/null |
            sed -n 's/^netcheck: step 2: .*, \([0-9.]*\) seconds.*/\1/p')
    fi
    for n in 2 4 8 16 32 64; do
        awk -v p="$params" -v n="$n" -v lat="$LAT" -v cfg="$cfg" -v secs="${secs:--}" 'BEGIN {
            bytes = 4 * p; f = 2 * (n - 1) / n; l = 2 * (n - 1) * lat * 1e-6
            t1 = f * bytes * 8 / 1e9 + l; t10 = f * bytes * 8 / 1e10 + l; t100 = f * bytes * 8 / 1e11 + l
            g10 = (n - 1) * bytes * 8 / 1e10 + (n - 1) * lat * 1e-6
            if (n == 2) printf "| %s | %d | %.1f | %s |", cfg, p, bytes / 1e6, secs
            else printf "| | | | |"
            printf " %d | %.3f s | %.4f s | %.5f s | %.4f s |\n", n, t1, t10, t100, g10 }'
    done
done
