#!/usr/bin/env bash
# Many-small-files creation: plain system calls against io_uring (perf/uring-create.c).
#
#   bash perf/uring-create.sh                   # 50,000 files / 2,000 dirs, 3 round-robin runs (~8 min)
#   bash perf/uring-create.sh --runs 5 --variants plain,data,ops256
#   bash perf/uring-create.sh --files 20000 --dirs 800 --no-trace
#
# Options:
#   --runs N        timed runs per variant (default 3), round-robin, the order rotated each round;
#                   0: the diagnostic pass only
#   --files N       files (default 50000, ~600 MB); --dirs N directories (default 2000)
#   --variants L    comma-separated (default: all, see perf/uring-create.c)
#   --cache DIR     where the binary, the loop file and the mount live (default /var/tmp/uring-create)
#   --no-trace      skip the diagnostic pass
#
# Every timed run gets a new ext4 without a journal (like /) on a sparse loop file (direct I/O loop
# device), then sync and echo 3 > /proc/sys/vm/drop_caches, then the run under nice -n 10. A new
# filesystem rather than rm -rf of the previous tree: on a journal-less ext4, inode allocation
# skips every inode freed in the last minutes (shared/ANCHORS.md: 3-12x the kernel time).
#
# Before the timed runs, an untimed diagnostic pass (1/5 of the files, one filesystem) runs each
# io_uring variant under `perf stat` with the tracepoints io_uring:io_uring_submit_req and
# io_uring:io_uring_queue_async_work filtered by opcode: how many OPENAT / WRITE / CLOSE / MKDIRAT
# requests were handed to io-wq workers at submission, and how many iou-wrk threads `ps -L`
# saw. (In a linked chain only the head is counted as queued: the worker that ran it issues the
# rest of the chain itself.)
#
# Prints the kernel, the per-run lines and a table of medians; the raw lines are also written
# to perf/results/uring-create-<date>.txt (ignored by git). Needs root (mkfs, mount, drop_caches).
set -euo pipefail
# Everything at nice 10: the machine is shared with builds.
if [ "$(nice)" -lt 10 ]; then exec nice -n $((10 - $(nice))) bash "$0" "$@"; fi

RUNS=3 FILES=50000 DIRS=2000 TRACE=1
CACHE=${DECANT_PERF_CACHE:-/var/tmp}/uring-create
ALL=plain,plain-nometa,data,ops32,ops256,link32,link256,link256-install,link256-w1,link256-sqpoll
VARIANTS=$ALL
while [ $# -gt 0 ]; do
    case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --dirs) DIRS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    --no-trace) TRACE=0; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "must run as root (mkfs, mount, drop_caches)" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '%s\n' "$*" >&2; }
IMG=$CACHE/fs.img MNT=$CACHE/mnt BIN=$CACHE/uring-create LOOPDEV=
mkdir -p "$CACHE" "$MNT"

release_fs() {
    if mountpoint -q "$MNT"; then umount "$MNT"; fi
    if [ -n "$LOOPDEV" ]; then losetup -d "$LOOPDEV" 2>/dev/null || true; LOOPDEV=; fi
    rm -f "$IMG"
}
fresh_fs() { # a new, empty ext4 without a journal at $MNT
    release_fs
    truncate -s 8G "$IMG"
    mkfs.ext4 -q -F -O ^has_journal -E lazy_itable_init=1,nodiscard "$IMG"
    LOOPDEV=$(losetup --direct-io=on -f --show "$IMG")
    mount -o noinit_itable "$LOOPDEV" "$MNT"
}
trap 'release_fs' EXIT
# A loop device a killed run left attached to our file.
if mountpoint -q "$MNT"; then umount "$MNT"; fi
for dev in $(losetup -j "$IMG" 2>/dev/null | cut -d: -f1); do losetup -d "$dev" || true; done

gcc -O2 -Wall -Wextra -o "$BIN" "$repo/perf/uring-create.c" -luring -lpthread -lm

say "kernel $(uname -r), $(nproc) cores, liburing $(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo '?'), gcc $(gcc -dumpversion)"
say "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
say "workload: $FILES files, $DIRS directories, $RUNS runs per variant; variants $VARIANTS"
IFS=, read -r -a variants <<<"$VARIANTS"

# --- diagnostic pass: which requests go to io-wq, how many workers -----------------------------
if [ $TRACE = 1 ] && command -v perf >/dev/null; then
    say ""
    say "diagnostic pass (untimed; $((FILES / 5)) files; queued = handed to io-wq at submission):"
    fresh_fs
    printf '%-16s %9s %12s %12s %12s %12s %12s %8s\n' variant submitted OPENAT WRITE CLOSE MKDIRAT FD_INSTALL 'ps:wrk' >&2
    events=(-e io_uring:io_uring_submit_req)
    for op in 18 23 19 37 54; do # OPENAT WRITE CLOSE MKDIRAT FIXED_FD_INSTALL (enum io_uring_op)
        events+=(-e io_uring:io_uring_submit_req --filter "opcode == $op" -e io_uring:io_uring_queue_async_work --filter "opcode == $op")
    done
    for v in "${variants[@]}"; do
        case $v in plain|plain-nometa) continue ;; esac
        mkdir "$MNT/diag-$v"
        perf stat -x, -o "$CACHE/perf-$v.csv" "${events[@]}" \
            "$BIN" -n $((FILES / 5)) -d $((DIRS / 5)) "$v" "$MNT/diag-$v" >"$CACHE/diag-$v.out" &
        perf_pid=$!
        max=0
        while kill -0 $perf_pid 2>/dev/null; do # count iou-wrk threads of the benchmark from outside
            child=$(pgrep -P $perf_pid | head -n1 || true)
            if [ -n "$child" ]; then
                n=$(ps -L -o comm= -p "$child" 2>/dev/null | grep -c '^iou-wrk' || true)
                [ "${n:-0}" -gt $max ] && max=$n
            fi
            sleep 0.1
        done
        wait $perf_pid
        # counts in order: all submitted, then per opcode (submitted, queued)
        mapfile -t c < <(grep -v '^#' "$CACHE/perf-$v.csv" | grep -v '^$' | cut -d, -f1)
        fmt() { printf '%s/%s' "${c[$2]}" "${c[$1]}"; } # queued/submitted
        printf '%-16s %9s %12s %12s %12s %12s %12s %8s\n' "$v" "${c[0]}" "$(fmt 1 2)" "$(fmt 3 4)" \
            "$(fmt 5 6)" "$(fmt 7 8)" "$(fmt 9 10)" "$max" >&2
    done
    say "(cells: queued to io-wq / submitted; ps:wrk = most iou-wrk threads ps -L saw at once)"
fi

# --- timed runs, round-robin -----------------------------------------------------------------------
[ "$RUNS" -gt 0 ] || exit 0
mkdir -p "$repo/perf/results"
out=$repo/perf/results/uring-create-$(date +%Y%m%d-%H%M%S).txt
{
    echo "# kernel $(uname -r) cores $(nproc) files $FILES dirs $DIRS runs $RUNS date $(date -Is)"
    echo "# load before $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
say ""
n=${#variants[@]}
start=$(date +%s)
for ((round = 1; round <= RUNS; round++)); do
    for ((k = 0; k < n; k++)); do
        v=${variants[$(((k + round - 1) % n))]} # rotate the order every round
        fresh_fs
        mkdir "$MNT/tree"
        sync
        echo 3 >/proc/sys/vm/drop_caches
        load=$(cut -d' ' -f1 /proc/loadavg)
        line=$("$BIN" -n "$FILES" -d "$DIRS" "$v" "$MNT/tree")
        echo "round=$round load1=$load $line" | tee -a "$out" >&2
    done
done
echo "# load after $(cut -d' ' -f1-3 /proc/loadavg); timed rounds took $(($(date +%s) - start)) s" >>"$out"
say "load after: $(cut -d' ' -f1-3 /proc/loadavg); timed rounds took $(($(date +%s) - start)) s; raw lines: $out"

# --- medians ------------------------------------------------------------------------------------------
python3 - "$out" "$VARIANTS" <<'EOF'
import statistics, sys
path, order = sys.argv[1], sys.argv[2].split(",")
runs = {}
for line in open(path):
    if line.startswith("#"):
        continue
    kv = dict(item.split("=", 1) for item in line.split())
    runs.setdefault(kv["variant"], []).append(kv)
cols = [("files/s", "files_s", "%.0f"), ("wall s", "wall", "%.2f"), ("user s", "user", "%.2f"),
        ("sys s", "sys", "%.2f"), ("CPU s", "cpu", "%.2f"), ("main thr s", None, "%.2f"),
        ("io-wq/sqp s", "iou_cpu", "%.2f"), ("others s", "others_cpu", "%.1f")]
print()
print("medians over %d runs each (CPU = getrusage RUSAGE_SELF, all threads; main thr = RUSAGE_THREAD user+sys;"
      % min(len(r) for r in runs.values()))
print("io-wq/sqp = iou-wrk/iou-sqp threads from /proc/self/task; others = CPU the rest of the machine used meanwhile)")
print()
head = ["variant"] + [c[0] for c in cols] + ["workers seen", "max at once"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for v in order:
    if v not in runs:
        continue
    rs, cells = runs[v], [v]
    for _, key, fmt in cols:
        if key is None:
            vals = [float(r["main_user"]) + float(r["main_sys"]) for r in rs]
        else:
            vals = [float(r[key]) for r in rs]
        cells.append(fmt % statistics.median(vals))
    cells.append("%d" % statistics.median(int(r["iou_threads_seen"]) for r in rs))
    cells.append("%d" % max(int(r["iou_max_concurrent"]) for r in rs))
    print("| " + " | ".join(cells) + " |")
spread = {v: (min(float(r["wall"]) for r in rs), max(float(r["wall"]) for r in rs)) for v, rs in runs.items()}
print()
print("wall min..max: " + ", ".join("%s %.2f..%.2f" % (v, *spread[v]) for v in order if v in spread))
unacc = [abs(float(r["unaccounted"])) for rs in runs.values() for r in rs]
print("RUSAGE_SELF minus (main thread + io_uring threads + sampler): at most %.3f s over all runs" % max(unacc))
EOF
