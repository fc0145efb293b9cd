#!/bin/sh
# Data-parallel training with Open MPI (docs/distributed.md), on this one
# machine, with the MPI=1 build in build/mpi:
# - N = 1, 2, 3 and 4 ranks give the weights and training state, bit for bit,
#   of one process running the cfg with subdivisions multiplied by N: a
#   classifier with [gcconv] (weights and R), batch norm, dropout and csgd, and a
#   YOLO detector with Adam; over shared memory, and over TCP alone (the
#   transport between machines);
# - only rank 0 writes files and prints the iteration lines;
# - a batch that the ranks cannot share is an error naming both numbers; a
#   cfg that differs on one rank is an error naming that rank;
# - a rank killed mid-run ends the job within seconds, non-zero, naming the
#   rank; its last checkpoint is whole and resumes with another N;
# - a rank stopped (SIGSTOP) ends the job at the deadline, naming the rank;
# - the bytes each rank sends and receives per step, as counted in the
#   metrics log, are those of the reduce-scatter and allgather;
# - a checkpoint resumed with another N continues the run bit for bit.
# Without Open MPI (mpicc, mpirun) the checks are skipped, saying so; CI
# installs it (make deps).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"

if ! command -v mpicc > /dev/null 2>&1 || ! command -v mpirun > /dev/null 2>&1; then
    echo "skipped: Open MPI is not installed (no mpicc or mpirun; 'make deps' installs libopenmpi-dev and openmpi-bin)"
    pass mpi_skipped_no_open_mpi
    exit 0
fi
if ! make --no-print-directory -s -j2 MPI=1 > "$WORK/build.out" 2>&1; then
    fail mpi_build "$(tail -3 "$WORK/build.out")"
    exit 0
fi
pass mpi_build
DN=$ROOT/build/mpi/darknet

# One machine, as root, shared memory between the ranks, one thread each.
export OMP_NUM_THREADS=1
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader --mca btl_vader_single_copy_mechanism none"

# ---- the classifier ------------------------------------------------------
shapes_dataset
head -48 "$SHAPES/train.list" > "$WORK/train48.list"
# $1 subdivisions, $2 max_batches, $3 batch
classifier_cfg() {
    sed "s/^batch=.*/batch=${3:-12}/; s/^subdivisions=.*/subdivisions=$1/; s/^max_batches=.*/max_batches=$2/" \
        tests/data/dist-classifier.cfg
}

# ctrain NAME NP SUBDIVISIONS MAX_BATCHES [WEIGHTS]: NP 0 is one process
# without mpirun.  Output in $WORK/NAME/log.
ctrain() {
    d=$WORK/$1
    mkdir -p "$d"
    classifier_cfg "$3" "$4" > "$d/net.cfg"
    printf 'classes=4\ntrain=%s\nlabels=%s\nbackup=%s\n' "$WORK/train48.list" "$SHAPES/labels.txt" "$d" > "$d/data.cfg"
    if [ "$2" = 0 ]; then
        "$DN" classifier train "$d/data.cfg" "$d/net.cfg" ${5:-} -dont_show > "$d/log" 2>&1
    else
        $MPIRUN -np "$2" "$DN" classifier train "$d/data.cfg" "$d/net.cfg" ${5:-} -dont_show > "$d/log" 2>&1
    fi
}

same_run() {   # $1 $2 run names: same weights and state files
    cmp -s "$WORK/$1/net.weights" "$WORK/$2/net.weights" &&
        cmp -s "$WORK/$1/net.weights.state" "$WORK/$2/net.weights.state"
}

ctrain c_ref1 0 6 6 && ctrain c_ref2 0 6 6 && [ -s "$WORK/c_ref1/net.weights" ] &&
    cmp -s "$WORK/c_ref1/net.weights" "$WORK/c_ref2/net.weights" &&
    pass classifier_reference_runs || fail classifier_reference_runs "$(tail -3 "$WORK/c_ref1/log")"
for n in 1 2 3; do
    ctrain "c_np$n" "$n" $((6 / n)) 6 && same_run c_ref1 "c_np$n" && pass "classifier_np${n}_equals_one_process" ||
        fail "classifier_np${n}_equals_one_process" "$(tail -3 "$WORK/c_np$n/log")"
done
# four ranks of 3 images, one pass each: one process with passes of 3
ctrain c_ref4 0 4 6 && ctrain c_np4 4 1 6 && same_run c_ref4 c_np4 && pass classifier_np4_equals_one_process ||
    fail classifier_np4_equals_one_process "$(tail -3 "$WORK/c_np4/log")"

# The gradient is cut into N chunks: 3 and 4 ranks do not divide its length
# here (878 floats), so the chunks differ in length.  Each rank receives
# its chunk of every pass and the other ranks' summed chunks: counted in the
# metrics log (rank 0's, whose chunk is the longest), it is exactly
#   4 x ((N-1) s L + (G - L) + (N-1) s S) + 8 (N-1)   bytes
# with L = ceil(G/N), S the per-pass statistics floats and 8 (N-1) the
# arrival messages; sent, 4 x (s (G - L) + (N-1) L + (N-1) s S) + 8 (N-1).
# bench/dist_cost.sh's formula (N-1)/N (s+1) 4G differs from the gradient
# part by 4e((N-1)s - 1), e = L - G/N < 1.
for n in 2 3 4; do
    s=$((6 / n)); [ "$n" = 4 ] && s=1
    model=$(sh bench/dist_cost.sh -bytes "$n" "$s" "$WORK/c_np$n/net.cfg")
    /usr/bin/python3 - "$WORK/c_np$n/net.metrics.jsonl" "$n" "$s" "$model" > "$WORK/bytes$n.out" 2>&1 <<'PY2'
import json, sys
path, n, s, model = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(l) for l in open(path)]
start = [r for r in recs if r["type"] == "start"][0]
its = [r for r in recs if r["type"] == "iteration"]
G, S = start["gradient_floats"], start["stats_floats"]
L = -(-G // n)
received = 4 * ((n - 1) * s * L + (G - L) + (n - 1) * s * S) + 8 * (n - 1)
sent = 4 * (s * (G - L) + (n - 1) * L + (n - 1) * s * S) + 8 * (n - 1)
grad = 4 * ((n - 1) * s * L + (G - L))
e = L - G / n
print("N=%d s=%d G=%d (G %% N = %d) S=%d: counted %s received, %s sent; expected %d, %d; model %d, gradient part %d"
      % (n, s, G, G % n, S, its[0]["bytes_received"], its[0]["bytes_sent"], received, sent, model, grad))
assert len(its) == 6
assert all(r["bytes_received"] == received and r["bytes_sent"] == sent for r in its)
assert abs(model - grad) <= 4 * e * ((n - 1) * s - 1) + 0.5
assert n == 2 or G % n != 0   # the non-dividing case is exercised
PY2
    [ $? -eq 0 ] && pass "classifier_np${n}_counted_bytes" || fail "classifier_np${n}_counted_bytes" "$(tail -3 "$WORK/bytes$n.out")"
done
# the same settings as Open MPI environment variables (docs/distributed.md)
MPIRUN_FLAGS=$MPIRUN
MPIRUN="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun"
ctrain c_env2 2 3 6 && same_run c_ref1 c_env2 && pass classifier_np2_environment_settings ||
    fail classifier_np2_environment_settings "$(tail -3 "$WORK/c_env2/log")"
MPIRUN=$MPIRUN_FLAGS
# Between machines the ranks talk over TCP: with the TCP transport alone
# (no shared memory), the same bits
MPIRUN_TCP="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,tcp"
MPIRUN=$MPIRUN_TCP
for n in 2 3; do
    ctrain "c_tcp$n" "$n" $((6 / n)) 6 && same_run c_ref1 "c_tcp$n" && pass "classifier_np${n}_over_tcp_equals_one_process" ||
        fail "classifier_np${n}_over_tcp_equals_one_process" "$(tail -3 "$WORK/c_tcp$n/log")"
done
MPIRUN=$MPIRUN_FLAGS
# the iteration lines, loss included, are those of the one process
grep '^[0-9]*, [0-9.]*: ' "$WORK/c_ref1/log" | cut -d, -f1-3 > "$WORK/ref.lines"
grep '^[0-9]*, [0-9.]*: ' "$WORK/c_np3/log" | cut -d, -f1-3 > "$WORK/np3.lines"
[ "$(wc -l < "$WORK/np3.lines")" -eq 6 ] && cmp -s "$WORK/ref.lines" "$WORK/np3.lines" &&
    pass classifier_np3_same_loss_lines_once || fail classifier_np3_same_loss_lines_once "$(head -2 "$WORK/np3.lines")"
grep -q '"allreduce_seconds"' "$WORK/c_np3/net.metrics.jsonl" && [ "$(grep -c '"type": "start"' "$WORK/c_np3/net.metrics.jsonl")" -eq 1 ] &&
    pass classifier_metrics_log_rank0_only || fail classifier_metrics_log_rank0_only

# a batch of 12 over 5 ranks; and 12/3 = 4 images each over subdivisions=3
ctrain c_bad5 5 1 2
grep -q 'batch=12: not divisible by the 5 processes' "$WORK/c_bad5/log" && ! [ -e "$WORK/c_bad5/net.weights" ] &&
    pass batch_not_divisible_names_both || fail batch_not_divisible_names_both "$(grep -i error "$WORK/c_bad5/log" | head -2)"
ctrain c_bad3 3 3 2
grep -q 'leaves 4 images to each of the 3 processes, not divisible by subdivisions=3' "$WORK/c_bad3/log" &&
    pass batch_per_rank_not_divisible || fail batch_per_rank_not_divisible "$(grep -i error "$WORK/c_bad3/log" | head -2)"

# resume with another N: 6 steps at N=2 equal 4 at N=2 plus 2 resumed at N=3
# (48 images, 12 a step: an epoch checkpoint net_1.weights after step 4)
mkdir -p "$WORK/c_resume"
ctrain c_half 2 3 4 && cp "$WORK/c_half/net_1.weights" "$WORK/c_resume/start.weights" &&
    cp "$WORK/c_half/net_1.weights.state" "$WORK/c_resume/start.weights.state" &&
    ctrain c_resume 3 2 6 "$WORK/c_resume/start.weights" && same_run c_ref1 c_resume &&
    pass resume_with_other_n_continues_exactly || fail resume_with_other_n_continues_exactly "$(tail -3 "$WORK/c_resume/log")"

# another cfg on rank 1
d=$WORK/c_mismatch
mkdir -p "$d"
classifier_cfg 6 2 > "$d/net.cfg"
printf 'classes=4\ntrain=%s\nlabels=%s\nbackup=%s\n' "$WORK/train48.list" "$SHAPES/labels.txt" "$d" > "$d/data.cfg"
cat > "$d/run.sh" <<EOF
#!/bin/sh
[ "\$OMPI_COMM_WORLD_RANK" = 1 ] && printf '\n# rank 1 edit\n' >> "$d/net.cfg.1" && exec "$DN" classifier train "$d/data.cfg" "$d/net.cfg.1" -dont_show
exec "$DN" classifier train "$d/data.cfg" "$d/net.cfg" -dont_show
EOF
cp "$d/net.cfg" "$d/net.cfg.1"
chmod +x "$d/run.sh"
timeout 60 $MPIRUN -np 2 "$d/run.sh" > "$d/log" 2>&1
status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] && grep -q 'rank 1: .*differs from rank 0' "$d/log" &&
    pass cfg_mismatch_names_rank || fail cfg_mismatch_names_rank "status $status: $(grep -i error "$d/log" | head -2)"

# ---- a rank that dies, and one that stops without dying --------------------
# fault_run NAME SIGNAL NP [MPIRUN OPTIONS]: 2 ranks train a long run; after
# the epoch-3 checkpoint rank 1 gets SIGNAL.  Sets d, victim, status and
# took (seconds from the signal to the job's end); then the last checkpoint
# must be whole and resume on NP ranks for two more steps (resumed=0).
fault_run() {
    d=$WORK/$1; sig=$2; np=$3; shift 3
    mkdir -p "$d"
    classifier_cfg 1 100000 6 > "$d/net.cfg"
    printf 'classes=4\ntrain=%s\nlabels=%s\nbackup=%s\n' "$WORK/train48.list" "$SHAPES/labels.txt" "$d" > "$d/data.cfg"
    timeout 120 $MPIRUN -np 2 "$@" "$DN" classifier train "$d/data.cfg" "$d/net.cfg" -dont_show > "$d/log" 2>&1 &
    job=$!
    i=0
    while [ $i -lt 600 ] && ! [ -e "$d/net_3.weights" ]; do sleep 0.1; i=$((i + 1)); done
    victim=$(pgrep -f "classifier train $d/data.cfg" | while read p; do
        tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && echo "$p"; done | head -1)
    signalled_at=$(date +%s)
    [ -n "$victim" ] && kill -"$sig" "$victim"
    wait $job
    status=$?
    took=$(($(date +%s) - signalled_at))
    [ -n "$victim" ] && kill -CONT "$victim" 2> /dev/null && kill -9 "$victim" 2> /dev/null
    echo "SIG$sig on rank 1 (pid $victim): the job ended ${took} s later with status $status"
    epoch=$(cd "$d" && ls net_*.weights 2>/dev/null | sed 's/^net_\([0-9]*\)\.weights$/\1/' | sort -n | tail -1)
    last=${epoch:+$d/net_$epoch.weights}
    resumed=1
    [ -n "$last" ] && ! ls "$d"/*.tmp* > /dev/null 2>&1 && cp "$last" "$d/start.weights" &&
        cp "$last.state" "$d/start.weights.state" && sed -i "s/^max_batches=.*/max_batches=$((epoch * 8 + 2))/" "$d/net.cfg" &&
        timeout 120 $MPIRUN -np "$np" "$DN" classifier train "$d/data.cfg" "$d/net.cfg" "$d/start.weights" -dont_show \
            > "$d/resume.log" 2>&1 && [ -s "$d/net.weights" ] && resumed=0
}
ended_soon() { [ -n "$victim" ] && [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$took" -le 30 ]; }

# killed: mpirun sees the death and ends the job, naming the rank
fault_run c_kill 9 3
ended_soon && grep -qi 'rank 1 .*signal 9\|rank 1 .*killed' "$d/log" && pass killed_rank_ends_job ||
    fail killed_rank_ends_job "victim '$victim', status $status after ${took}s: $(tail -4 "$d/log" | tr '\n' ' ')"
[ "$resumed" = 0 ] && pass killed_run_checkpoint_resumes_with_np3 ||
    fail killed_run_checkpoint_resumes_with_np3 "last '$last': $(tail -3 "$d/resume.log" 2>/dev/null)"
# stopped: rank 0 waits at the next gradient exchange until the deadline
# (DARKNET_DIST_TIMEOUT, 3 s here), names rank 1 and ends the job
fault_run c_stop STOP 2 -x DARKNET_DIST_TIMEOUT=3
ended_soon && grep -q 'rank 0 of 2: .* within 3 s (DARKNET_DIST_TIMEOUT); not \(arrived\|receiving\): rank 1: ending the job' "$d/log" &&
    pass stopped_rank_ends_job_naming_it ||
    fail stopped_rank_ends_job_naming_it "victim '$victim', status $status after ${took}s: $(tail -4 "$d/log" | tr '\n' ' ')"
[ "$resumed" = 0 ] && pass stopped_run_checkpoint_resumes ||
    fail stopped_run_checkpoint_resumes "last '$last': $(tail -3 "$d/resume.log" 2>/dev/null)"
# a deadline that is not a number is an error naming the variable
DARKNET_DIST_TIMEOUT=soon $MPIRUN -np 2 -x DARKNET_DIST_TIMEOUT "$DN" classifier train "$WORK/c_np2/data.cfg" "$WORK/c_np2/net.cfg" -dont_show > "$WORK/badtimeout.log" 2>&1
status=$?
[ "$status" -ne 0 ] && grep -q 'DARKNET_DIST_TIMEOUT=soon: expected seconds' "$WORK/badtimeout.log" &&
    pass bad_timeout_is_an_error || fail bad_timeout_is_an_error "status $status: $(tail -2 "$WORK/badtimeout.log")"

# ---- the YOLO detector ----------------------------------------------------
voc_shapes
D=$WORK/voc
convert_to "$D" || fail voc_convert "$(tail -3 "$D.convert.out")"
# $1 name, $2 np (0: one process), $3 subdivisions
dtrain() {
    d=$WORK/$1
    mkdir -p "$d"
    sed "s/^batch=.*/batch=12/; s/^subdivisions=.*/subdivisions=$3/; s/^max_batches=.*/max_batches=3/" \
        tests/data/tiny-det.cfg > "$d/det.cfg"
    sed "s#^backup *=.*#backup=$d#" "$D/voc.data" > "$d/voc.data"
    if [ "$2" = 0 ]; then
        "$DN" detector train "$d/voc.data" "$d/det.cfg" > "$d/log" 2>&1
    else
        $MPIRUN -np "$2" "$DN" detector train "$d/voc.data" "$d/det.cfg" > "$d/log" 2>&1
    fi
}
dtrain d_ref 0 6 && [ -s "$WORK/d_ref/det_final.weights" ] && pass detector_reference_run ||
    fail detector_reference_run "$(tail -3 "$WORK/d_ref/log")"
for n in 1 2 3; do
    dtrain "d_np$n" "$n" $((6 / n)) && cmp -s "$WORK/d_ref/det_final.weights" "$WORK/d_np$n/det_final.weights" &&
        cmp -s "$WORK/d_ref/det_final.weights.state" "$WORK/d_np$n/det_final.weights.state" &&
        pass "detector_np${n}_equals_one_process" || fail "detector_np${n}_equals_one_process" "$(tail -3 "$WORK/d_np$n/log")"
done
dtrain d_ref4 0 4 && dtrain d_np4 4 1 && cmp -s "$WORK/d_ref4/det_final.weights" "$WORK/d_np4/det_final.weights" &&
    cmp -s "$WORK/d_ref4/det_final.weights.state" "$WORK/d_np4/det_final.weights.state" &&
    pass detector_np4_equals_one_process || fail detector_np4_equals_one_process "$(tail -3 "$WORK/d_np4/log")"
MPIRUN=$MPIRUN_TCP
dtrain d_tcp2 2 3 && cmp -s "$WORK/d_ref/det_final.weights" "$WORK/d_tcp2/det_final.weights" &&
    cmp -s "$WORK/d_ref/det_final.weights.state" "$WORK/d_tcp2/det_final.weights.state" &&
    pass detector_np2_over_tcp_equals_one_process || fail detector_np2_over_tcp_equals_one_process "$(tail -3 "$WORK/d_tcp2/log")"
MPIRUN=$MPIRUN_FLAGS
