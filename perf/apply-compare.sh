#!/usr/bin/env bash
# decant apply-layer against GNU tar on the same layer, side by side, round-robin.
#
#   bash perf/apply-compare.sh                  # N=3 rounds of the five tools below
#   N=5 bash perf/apply-compare.sh
#   TOOLS="decant-gzip tar-gzip" bash perf/apply-compare.sh
#
# Tools (TOOLS picks a subset, in this order of names):
#   decant-gzip        decant apply-layer --gzip isal layer.tar.gz DIR
#   decant-gzip-zlib   decant apply-layer --gzip zlib layer.tar.gz DIR       (not in the default set)
#   decant-gzip-uring  decant apply-layer --io uring layer.tar.gz DIR        (not in the default set)
#   decant-zstd        decant apply-layer layer.tar.zst DIR
#   tar-gzip           tar -xzf layer.tar.gz -C DIR
#   tar-pigz           tar -I pigz -xf layer.tar.gz -C DIR
#   tar-zstd           tar --zstd -xf layer.tar.zst -C DIR
#
# Every run extracts into a new empty directory on the filesystem of BENCH_DIR (/var/tmp). Before each
# run, outside the timing: rm -rf of the previous tree, sync, echo 3 > /proc/sys/vm/drop_caches (needs
# root; see shared/ANCHORS.md: on journal-less ext4, creating files right after an rm -rf costs 3-12x
# more kernel time), then the blob is read once so that every tool starts from a cached input.
# Wall time is taken with date +%s%N around the command; user/sys CPU and peak RSS with
# /usr/bin/time (GNU time, installed through apt when missing). A tar row's CPU and RSS include its
# gzip/pigz/zstd child.
#
# FS=loop extracts instead into a new ext4 filesystem (no journal, like /) made for each run on a
# loop device: sync + drop_caches does not stop ext4 from skipping recently deleted inodes when it
# allocates (recently_deleted() in find_inode_bit took half the kernel time here while other sessions
# were deleting files on /), and a fresh filesystem has none.
#
# Environment: N (rounds, 3), TOOLS, BENCH_DIR (/var/tmp/decant-bench), FS (same or loop), DECANT (a
# decant binary: skips the build), SCRATCH (build dir, default .build-bench so a concurrent
# `swift build` in .build is not disturbed), KEEP_TREE=1 (leave the last tree).
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-3}
BENCH_DIR=${BENCH_DIR:-/var/tmp/decant-bench}
SCRATCH=${SCRATCH:-$repo/.build-bench}
TOOLS=${TOOLS:-decant-gzip decant-zstd tar-gzip tar-pigz tar-zstd}
FS=${FS:-same}
case $FS in same | loop) ;; *) echo "FS must be same or loop" >&2; exit 1 ;; esac

say() { printf '%s\n' "$*" >&2; }

# --- tools we time with --------------------------------------------------------------------------
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v pigz >/dev/null || need+=(pigz)
command -v zstd >/dev/null || need+=(zstd)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]} through apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
can_drop=1
if ! [ -w /proc/sys/vm/drop_caches ]; then
    can_drop=0
    say "warning: cannot write /proc/sys/vm/drop_caches (run as root): timings will be noisier"
fi

# --- decant, release build -----------------------------------------------------------------------
if [ -z "${DECANT:-}" ]; then
    say "building decant (release, --scratch-path $SCRATCH)"
    build_start=$(date +%s)
    (cd "$repo" && swift build -c release --scratch-path "$SCRATCH" --product decant 2>&1 | tail -n 3) >&2
    say "build took $(( $(date +%s) - build_start )) s"
    DECANT=$SCRATCH/release/decant
fi
[ -x "$DECANT" ] || { say "no decant binary at $DECANT"; exit 1; }

# --- the layer -----------------------------------------------------------------------------------
bash "$repo/Benchmarks/make-layer.sh" "$BENCH_DIR" >&2
# shellcheck disable=SC1091
. "$BENCH_DIR/layer.env"
gz=$BENCH_DIR/layer.tar.gz
zst=$BENCH_DIR/layer.tar.zst
extract=$BENCH_DIR/extract
results=$(mktemp)
image=$BENCH_DIR/fs.img
unmount() { if mountpoint -q "$extract"; then umount "$extract"; fi; }
trap 'rm -f "$results"; unmount; rm -f "$image"' EXIT

command_for() { # tool dir -> prints the command, one word a line
    case $1 in
    decant-gzip) printf '%s\n' "$DECANT" apply-layer --gzip isal --json "$gz" "$2" ;;
    decant-gzip-zlib) printf '%s\n' "$DECANT" apply-layer --gzip zlib --json "$gz" "$2" ;;
    decant-gzip-uring) printf '%s\n' "$DECANT" apply-layer --gzip isal --io uring --json "$gz" "$2" ;;
    decant-zstd) printf '%s\n' "$DECANT" apply-layer --json "$zst" "$2" ;;
    tar-gzip) printf '%s\n' tar -xzf "$gz" -C "$2" ;;
    tar-pigz) printf '%s\n' tar -I pigz -xf "$gz" -C "$2" ;;
    tar-zstd) printf '%s\n' tar --zstd -xf "$zst" -C "$2" ;;
    *) say "unknown tool $1"; exit 1 ;;
    esac
}
blob_for() { case $1 in *zstd) echo "$zst" ;; *) echo "$gz" ;; esac; }

fresh_dir() { # blob -> prints a new empty directory
    unmount
    rm -rf "$extract"
    rm -f "$image"
    sync
    [ $can_drop = 1 ] && echo 3 >/proc/sys/vm/drop_caches
    mkdir -p "$extract"
    if [ "$FS" = loop ]; then
        truncate -s "${LOOP_SIZE:-4G}" "$image"
        mkfs.ext4 -q -F -O ^has_journal "$image"
        mount -o loop "$image" "$extract"
    fi
    cat "$1" >/dev/null
    mkdir "$extract/tree"
    echo "$extract/tree"
}

run_once() { # round tool
    local round=$1 tool=$2 dir timing out start end
    dir=$(fresh_dir "$(blob_for "$tool")")
    mapfile -t cmd < <(command_for "$tool" "$dir")
    timing=$(mktemp)
    out=$(mktemp)
    start=$(date +%s%N)
    if ! /usr/bin/time -f '%U %S %M' -o "$timing" "${cmd[@]}" >"$out" 2>&1; then
        say "FAILED: ${cmd[*]}"
        cat "$out" >&2
        exit 1
    fi
    end=$(date +%s%N)
    read -r user sys rss_kb <"$timing"
    # decant --json reports what it counted: check it against make-layer.sh.
    if [[ $tool == decant-* ]]; then
        python3 - "$out" "$UNCOMPRESSED_BYTES" "$ENTRIES" <<'EOF' >&2
import json, sys
report = json.load(open(sys.argv[1]))
result = report["result"]
size, total = result["digests"]["uncompressedSize"], result["entries"]["total"]
if size != int(sys.argv[2]) or total != int(sys.argv[3]):
    print(f"warning: decant counted {size} bytes, {total} entries; make-layer.sh {sys.argv[2]}, {sys.argv[3]}")
EOF
    fi
    rm -f "$timing" "$out"
    local seconds
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    printf '%s %s %s %s %s %s\n' "$tool" "$round" "$seconds" "$user" "$sys" "$rss_kb" >>"$results"
    say "  round $round  $(printf '%-18s' "$tool") $seconds s  (user $user s, sys $sys s, peak RSS $((rss_kb / 1024)) MB)"
}

say "layer: $UNCOMPRESSED_BYTES bytes uncompressed, $ENTRIES entries; gzip $GZIP_BYTES, zstd $ZSTD_BYTES bytes"
say "rounds: $N, tools: $TOOLS, filesystem: $FS"
load_report() { # other work on this 2-core machine moves every figure
    say "$1: load average $(cut -d' ' -f1-3 /proc/loadavg); CPU pressure $(head -n1 /proc/pressure/cpu 2>/dev/null || echo '?')"
}
load_report before
for round in $(seq 1 "$N"); do
    for tool in $TOOLS; do run_once "$round" "$tool"; done
done
load_report after
if [ "${KEEP_TREE:-0}" != 1 ]; then unmount; rm -rf "$extract"; rm -f "$image"; fi
trap 'rm -f "$results"' EXIT

python3 - "$results" "$UNCOMPRESSED_BYTES" "$ENTRIES" "$N" "$TOOLS" "$FS" <<'EOF'
import statistics, sys
path, size, entries, rounds, tools, fs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].split(), sys.argv[6]
runs = {}
for line in open(path):
    tool, _, seconds, user, sys_, rss = line.split()
    runs.setdefault(tool, []).append((float(seconds), float(user), float(sys_), int(rss)))
med = {t: statistics.median(r[0] for r in runs[t]) for t in tools}

where = "a new loop-mounted ext4 per run" if fs == "loop" else "the same filesystem"
print(f"\nlayer: {size / 1e6:.1f} MB uncompressed, {entries} entries; median of {rounds} round-robin runs into {where}, "
      "rm -rf + sync + drop_caches before each (untimed)\n")
print(f"| {'tool':<18} | {'median s':>8} | {'min s':>6} | {'max s':>6} | {'MB/s':>6} | {'entries/s':>9} | {'user s':>6} | {'sys s':>6} | {'peak RSS MB':>11} |")
print(f"| {'-' * 18} | {'-' * 7}: | {'-' * 5}: | {'-' * 5}: | {'-' * 5}: | {'-' * 8}: | {'-' * 5}: | {'-' * 5}: | {'-' * 10}: |")
for t in tools:
    r = runs[t]
    s = med[t]
    print(f"| {t:<18} | {s:8.3f} | {min(x[0] for x in r):6.3f} | {max(x[0] for x in r):6.3f} | {size / 1e6 / s:6.1f} | "
          f"{entries / s:9.0f} | {statistics.median(x[1] for x in r):6.2f} | {statistics.median(x[2] for x in r):6.2f} | "
          f"{max(x[3] for x in r) / 1024:11.1f} |")

decants = [t for t in tools if t.startswith("decant")]
tars = [t for t in tools if t.startswith("tar")]
if decants and tars:
    print("\nspeed-up of decant over each tar variant (tar median / decant median; > 1 means decant is faster)\n")
    print(f"| {'':<18} | " + " | ".join(f"{t:>9}" for t in tars) + " |")
    print(f"| {'-' * 18} | " + " | ".join("-" * 8 + ":" for _ in tars) + " |")
    for d in decants:
        print(f"| {d:<18} | " + " | ".join(f"{med[t] / med[d]:8.2f}x" for t in tars) + " |")
EOF
