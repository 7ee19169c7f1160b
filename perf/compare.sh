#!/usr/bin/env bash
# decant pull against containerd 1.6, umoci and GNU tar on the same OCI images, side by side.
#
#   bash perf/compare.sh                       # 4 images x 4 tools x 3 round-robin runs (~30-40 min)
#   bash perf/compare.sh --quick               # ~100-150 MB images, smoke run (~3 min)
#   bash perf/compare.sh --runs 5 --images many-files-gzip,big-files-zstd --tools decant,tar
#   bash perf/compare.sh --registry            # the four tools plus both pulls from a local registry
#
# Options:
#   --runs N          runs per tool and image (default 3); the tables show medians
#   --images LIST     comma-separated, from many-files-gzip, many-files-zstd, big-files-gzip,
#                     big-files-zstd (default: all four)
#   --tools LIST      comma-separated, run in this order within a round (default
#                     decant,containerd,umoci,tar); also available: decant-nosync, decant-copy,
#                     containerd-sync, tar-sync, decant-registry, decant-registry-discard,
#                     containerd-registry
#   --registry        add decant-registry and containerd-registry to the tools (after the others,
#                     unless --tools already names them): pulls from a local docker-registry
#   --quick           small images (cache subdir images-quick) for a smoke run
#   --cache DIR       where images, the registry's storage, the private containerd and scratch
#                     trees live (default $DECANT_PERF_CACHE or /var/tmp/decant-perf; must be on the
#                     filesystem you want to measure: every tool writes there)
#   --decant BIN      use this decant binary instead of building one
#   --scratch DIR     swift build --scratch-path (default .build-perf, so a concurrent
#                     `swift build` in .build is not disturbed)
#   --out FILE        results JSON (default perf/results/compare-<date>.json)
#   --fs root|fresh   root (default): every tool writes into CACHE on the root file system, as in
#                     shared/ANCHORS.md. fresh: before every run a new ext4 without a journal (like
#                     /) is made on a sparse loop file (CACHE/fresh.img, loop device with direct
#                     I/O) and mounted at CACHE/work; every tool, containerd's root included, writes
#                     there (the daemon is restarted on it before each of its runs, untimed), and the
#                     decant layout tools read a copy of the layout made there (untimed), so that
#                     decant hard-links the blobs as it does on a node rather than copying them. This
#                     removes what earlier runs and other users leave behind on /: on a journal-less
#                     ext4, inode allocation skips (and checks one by one, recently_deleted()) every
#                     inode freed in the last 5-10 minutes, which inflated kernel time 2-3x here.
#                     Its own cost: flushes go through the loop device onto a sparse file, which
#                     slows the tools that flush (decant, *-sync) more than those that do not
#                     (tar, containerd). Ratios near a target swing by 10-25% between runs here
#                     on either file system: use --runs 5 or more, and say which one was used.
#
# Tools (one run = one of these, timed from outside with date +%s%N and /usr/bin/time -v):
#   decant          DECANT_ROOT=<fresh dir> decant pull --json oci:LAYOUT:latest   (defaults:
#                   --sync fs, --gzip isal, --io syscalls, unpack concurrency = cores)
#   decant-nosync   the same with --sync none (no syncfs before each commit)
#   decant-copy     the same as decant with --copy-blobs: the layout's layer blobs are copied into
#                   the content store (as a registry pull must) instead of hard-linked
#   containerd      ctr -n perf images import --snapshotter overlayfs ARCHIVE (import + unpack)
#                   against a private containerd 1.6 (own root/state/sockets under CACHE/containerd,
#                   CRI off), started once per script run, with unpigz on its PATH. Its wall time
#                   is ctr's; CPU and peak RSS are the daemon's (utime+stime+cutime+cstime delta
#                   of /proc/PID/stat, so unpigz children are included; VmHWM after clear_refs).
#                   Between runs: ctr images rm --sync, then any leftover snapshots and content
#                   are removed, so every import starts from an empty store.
#   containerd-sync the same as containerd, then sync -f CROOT (syncfs(2) of the file system
#                   holding the snapshots), timed together: containerd 1.6 never flushes its
#                   snapshots, decant's default --sync fs does before each commit, so this and
#                   tar-sync are the baselines at decant's durability
#   umoci           umoci raw unpack --image LAYOUT:latest DIR  (gzip images; umoci 0.4 cannot
#                   read zstd layers: recorded as n/a)
#   tar             for each layer, bottom first: tar -I pigz -xf BLOB -C DIR (gzip) or
#                   tar -I zstd -xf BLOB -C DIR (zstd), all into one directory, no whiteout
#                   handling (the baseline of shared/ANCHORS.md)
#   tar-sync        the same as tar, then sync -f DIR (syncfs(2)), timed together
#   decant-registry DECANT_ROOT=<fresh dir> decant pull --json HOST/perf/IMAGE:latest (defaults
#                   as for decant; HOST is loopback, so decant falls back from HTTPS to plain HTTP
#                   by itself)
#   decant-registry-discard
#                   the same as decant-registry with --discard-unpacked-layers: the layer blobs
#                   stream into their snapshots and are not written to the content store (what a
#                   linked layout pull, decant, writes too)
#   containerd-registry
#                   ctr -n perf images pull --plain-http --snapshotter overlayfs HOST/perf/IMAGE:latest
#                   (fetch, then unpack) against the same private containerd, measured and emptied
#                   between runs as for containerd
#   Both registry tools pull from one docker-registry (Tests/RegistryFixtures/registry.py, plain
#   HTTP on 127.0.0.1, Debian's distribution 2.8) started once per script run on the storage
#   CACHE/registry (CACHE/registry-quick for --quick), stopped on exit. Each image is pushed there
#   once with skopeo --preserve-digests (skipped when the registry already serves the layout's
#   manifest digest under perf/IMAGE:latest). The registry's CPU time during each run is
#   recorded separately (registry_cpu; not part of either tool's CPU). Its log goes to the runs
#   log directory.
#
# Protocol (as in shared/ANCHORS.md): the images are built once into CACHE (perf/make-images.py,
# from files of this machine, reused when present). For each image, the tools run round-robin
# (A B C D A B C D ...). Before every run, outside the timing: the previous run's output is
# removed (rm -rf / ctr images rm), then sync, echo 3 > /proc/sys/vm/drop_caches, and the run's
# input (layer blobs, the archive, or the image's blob and metadata files in the registry's
# storage) and the tool's executables and shared libraries are read once, so that every tool
# starts from a cached input and binary and an uncached, freshly emptied destination. The
# machine's load average, the CPU time used by everything else during each run (from
# /proc/stat) and the bytes written to the output's block device during it (from
# /proc/diskstats) are recorded next to each run.
#
# Output: one table per image on stdout (median seconds per tool, ratio to decant, decant MB/s,
# entries/s, files/s, peak RSS, CPU%), and the same data plus every run and decant's per-layer
# timings in perf/results/compare-<date>.json (see perf/results/README.md). Progress goes to stderr.
# Per-run logs (decant's JSON lines, ctr/umoci/tar output) are kept in CACHE/runs/<date>/.
#
# Needs root (drop_caches, containerd, mknod/chown in the trees). Installs containerd, pigz,
# zstd, umoci, GNU time (and for the registry tools docker-registry, skopeo, curl, openssl)
# through apt when missing. The private containerd (started with Tests/Fixtures/private-containerd.sh),
# its mounts, the registry process and the scratch trees are removed on exit, also on failure
# or Ctrl-C; images and the registry's storage stay cached.
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
here=$repo/perf
PY=/usr/bin/python3 # the system interpreter, not a version-manager shim

RUNS=3
IMAGES=many-files-gzip,many-files-zstd,big-files-gzip,big-files-zstd
TOOLS=decant,containerd,umoci,tar
QUICK=0
CACHE=${DECANT_PERF_CACHE:-/var/tmp/decant-perf}
DECANT=${DECANT:-}
SCRATCH=$repo/.build-perf
OUT=
FS=root
REGISTRY=0

say() { printf '%s\n' "$*" >&2; }
die() { say "compare.sh: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
    --runs) RUNS=${2:?}; shift 2 ;;
    --images) IMAGES=${2:?}; shift 2 ;;
    --tools) TOOLS=${2:?}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --cache) CACHE=${2:?}; shift 2 ;;
    --decant) DECANT=${2:?}; shift 2 ;;
    --scratch) SCRATCH=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --fs) FS=${2:?}; shift 2 ;;
    --registry) REGISTRY=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive number"
case $FS in root | fresh) ;; *) die "--fs is root or fresh" ;; esac
IFS=, read -r -a images <<<"$IMAGES"
IFS=, read -r -a tools <<<"$TOOLS"
for i in "${images[@]}"; do
    case $i in many-files-gzip | many-files-zstd | big-files-gzip | big-files-zstd) ;; *) die "unknown image $i" ;; esac
done
for t in "${tools[@]}"; do
    case $t in
    decant | decant-nosync | decant-copy | containerd | containerd-sync | umoci | tar | tar-sync | decant-registry | \
        decant-registry-discard | containerd-registry) ;;
    *) die "unknown tool $t" ;;
    esac
done
has_tool() { local t; for t in "${tools[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
if [ $REGISTRY = 1 ]; then
    for t in decant-registry containerd-registry; do has_tool $t || tools+=("$t"); done
fi
TOOLS=$(IFS=,; echo "${tools[*]}")
is_ctr() { case $1 in containerd | containerd-sync | containerd-registry) return 0 ;; esac; return 1; } # TOOL: runs against the daemon
uses_registry() { has_tool decant-registry || has_tool decant-registry-discard || has_tool containerd-registry; }
uses_containerd() { has_tool containerd || has_tool containerd-sync || has_tool containerd-registry; }

[ "$(id -u)" = 0 ] || die "must run as root (drop_caches, containerd, chown/mknod in the trees)"

# --- what we need --------------------------------------------------------------------------------
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v pigz >/dev/null && command -v unpigz >/dev/null || need+=(pigz) # unpigz: containerd's gzip
command -v zstd >/dev/null || need+=(zstd)
[ -x "$PY" ] || need+=(python3)
if uses_containerd; then command -v containerd >/dev/null && command -v ctr >/dev/null || need+=(containerd); fi
if uses_registry; then
    for p in docker-registry skopeo curl openssl; do command -v $p >/dev/null || need+=("$p"); done
fi
if has_tool umoci; then command -v umoci >/dev/null || need+=(umoci); fi
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]} through apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
exec 9>"$CACHE/.lock"
flock -n 9 || die "another compare.sh holds $CACHE/.lock"

STAMP=$(date +%Y%m%d-%H%M%S)
WORK=$CACHE/work
CD=$CACHE/containerd
RUNLOG=$CACHE/runs/$STAMP
RESULTS=$here/results
OUT=${OUT:-$RESULTS/compare-$STAMP.json}
mkdir -p "$RESULTS" "$RUNLOG"
records=$RUNLOG/runs.tsv
: >"$records"

# --- cleanup, whatever happens -------------------------------------------------------------------
# the private containerd's start/stop: private_containerd_start/_check_snapshotters/_stop/
# _unmount_below, which set PID (the daemon), SOCKDIR and SOCK (its gRPC socket)
PRIVATE_CONTAINERD_SOCKDIR_PREFIX=/tmp/decant-perf-containerd # only if CD/run is too long a path
. "$repo/Tests/Fixtures/private-containerd.sh"
LOOPDEV=
REGPY=$repo/Tests/RegistryFixtures/registry.py
if [ $QUICK = 1 ]; then REGDIR=$CACHE/registry-quick; else REGDIR=$CACHE/registry; fi
REGHOST=
REGPID=
unmount_below() { private_containerd_unmount_below "$1"; } # DIR: lazily, deepest first
stop_containerd() { private_containerd_stop; PID=; }
stop_registry() { # stops our docker-registry (if any) and keeps its log with this run's logs
    uses_registry || return 0
    "$PY" "$REGPY" stop --dir "$REGDIR" >/dev/null 2>&1 || true
    if [ -n "$REGPID" ] && [ -f "$REGDIR/registry.log" ]; then mv "$REGDIR/registry.log" "$RUNLOG/registry.log" || true; fi
    REGPID=
}
fresh_fs_release() { # unmounts CACHE/work and detaches its loop device (fresh mode)
    unmount_below "$WORK"
    if mountpoint -q "$WORK"; then umount "$WORK" 2>/dev/null || umount -l "$WORK"; fi
    if [ -n "$LOOPDEV" ]; then losetup -d "$LOOPDEV" 2>/dev/null || true; LOOPDEV=; fi
    rm -f "$CACHE/fresh.img"
}
cleanup() {
    local rc=$?
    stop_containerd
    stop_registry
    unmount_below "$CACHE"
    [ "$FS" = fresh ] && fresh_fs_release
    rm -rf "$WORK" "$CD"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# leftovers of an earlier run that was killed hard
unmount_below "$CACHE"
if mountpoint -q "$WORK"; then umount -l "$WORK"; fi
for dev in $(losetup -j "$CACHE/fresh.img" 2>/dev/null | cut -d: -f1); do losetup -d "$dev" || true; done
rm -rf "$WORK" "$CD" "$CACHE/fresh.img"
if uses_registry; then # a registry a hard-killed run left running (registry.py checks pid and start time)
    "$PY" "$REGPY" stop --dir "$REGDIR" >/dev/null 2>&1 || true
    rm -f "$REGDIR/registry.log"
fi
mkdir -p "$WORK"
fresh_fs() { # a new, empty ext4 (no journal) mounted at CACHE/work
    fresh_fs_release
    mkdir -p "$WORK"
    truncate -s 24G "$CACHE/fresh.img"
    # lazy_itable_init + noinit_itable: no background zeroing of inode tables during the runs
    # (a sparse file reads back zeros anyway); nodiscard: nothing to discard in a new file
    mkfs.ext4 -q -F -O ^has_journal -E lazy_itable_init=1,nodiscard "$CACHE/fresh.img"
    LOOPDEV=$(losetup --direct-io=on -f --show "$CACHE/fresh.img")
    mount -o noinit_itable "$LOOPDEV" "$WORK"
}

# --- decant, release build -----------------------------------------------------------------------
# the source the binary is built from: taken now, not when the report is written (edits made during
# a long run would otherwise be reported as part of the measured binary)
git_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git_dirty=$(git -C "$repo" status --porcelain -- Sources Package.swift 2>/dev/null | wc -l)
if [ -z "$DECANT" ]; then
    say "building decant (release, --scratch-path $SCRATCH)"
    build_start=$(date +%s)
    if ! (cd "$repo" && swift build -c release --scratch-path "$SCRATCH" --product decant >"$RUNLOG/build.log" 2>&1); then
        tail -n 30 "$RUNLOG/build.log" >&2
        die "swift build failed (log: $RUNLOG/build.log); --decant BIN runs an existing binary"
    fi
    say "build took $(($(date +%s) - build_start)) s"
    DECANT=$(cd "$repo" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/decant
fi
[ -x "$DECANT" ] || die "no decant binary at $DECANT"
DECANT=$(realpath "$DECANT")

# --- images --------------------------------------------------------------------------------------
if [ $QUICK = 1 ]; then IMGDIR=$CACHE/images-quick; qflag=(--quick); else IMGDIR=$CACHE/images; qflag=(); fi
kinds=()
for i in "${images[@]}"; do
    k=${i%-*}
    [ -s "$IMGDIR/$i/meta.json" ] || [[ " ${kinds[*]} " == *" $k "* ]] || kinds+=("$k")
done
if [ ${#kinds[@]} -gt 0 ]; then
    say "building images ${kinds[*]} into $IMGDIR (once; reused afterwards)"
    "$PY" "$here/make-images.py" "$IMGDIR" "${qflag[@]}" "${kinds[@]}"
fi
meta() { # IMAGE EXPR: a value from the image's meta.json (m = the parsed object)
    "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("\n".join(map(str,v)) if isinstance(v,list) else v)' \
        "$IMGDIR/$1/meta.json" "$2"
}

# --- private containerd --------------------------------------------------------------------------
NS=perf
CROOT=$CD/root
[ "$FS" = fresh ] && CROOT=$WORK/containerd-root # on the fresh file system; config, state, sockets stay in CD
start_containerd() {
    mkdir -p "$CD/tmp"
    # runs from the empty CD/cwd (containerd 1.6 resolves some hardlink names relative to it);
    # XDG_RUNTIME_DIR unset (env -u: the library passes these words to env); TMPDIR: its temporary
    # mounts (mount.WithTempMount) land below CACHE, where cleanup looks; PATH as ours, so that
    # it finds unpigz
    private_containerd_start "$CD" "$CROOT" -u XDG_RUNTIME_DIR TMPDIR="$CD/tmp" || die "containerd did not start (log: $CD/containerd.log)"
    private_containerd_check_snapshotters overlayfs ||
        die "the overlayfs snapshotter is not available in the private containerd"
    say "private containerd $(containerd --version | awk '{print $3}') running (pid $PID, root $CROOT, socket $SOCK)"
}
c() { ctr -a "$SOCK" -n "$NS" "$@"; }
containerd_empty() { # removes every image, snapshot and content blob of our namespace
    local name s left
    for name in $(c images ls -q); do c images rm --sync "$name" >/dev/null; done
    for _ in 1 2 3 4 5 6 7 8; do # children first: repeat until nothing is left
        left=$(c snapshots --snapshotter overlayfs ls | awk 'NR > 1 {print $1}')
        [ -z "$left" ] && break
        for s in $left; do c snapshots --snapshotter overlayfs rm "$s" >/dev/null 2>&1 || true; done
    done
    for s in $(c content ls -q); do c content rm "$s" >/dev/null 2>&1 || true; done
    [ -z "$(c snapshots --snapshotter overlayfs ls | awk 'NR > 1')" ] || say "warning: containerd snapshots left over"
}

# root mode: one daemon for the whole script; fresh mode: one per containerd run, on the new fs
if uses_containerd && [ "$FS" = root ]; then start_containerd; fi
CLK_TCK=$(getconf CLK_TCK)
# printf, not print: mawk prints numbers above 2^31 as 1.2e+10, and the machine-wide tick counts
# pass that after about 124 days of uptime on 2 cores
proc_cpu_ticks() { # PID: utime+stime+cutime+cstime
    awk '{printf "%.0f\n", $14 + $15 + $16 + $17}' "/proc/$1/stat"
}
machine_busy_ticks() { # everything but idle and iowait, all CPUs
    awk '/^cpu / {printf "%.0f\n", $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
steal_ticks() { # time the hypervisor ran something else while this VM wanted to run, all CPUs
    awk '/^cpu / {printf "%.0f\n", $9}' /proc/stat
}
disk_of() { # DIR: the block device (as named in /proc/diskstats) holding DIR or its nearest existing parent
    local dir=$1 majmin
    while [ ! -e "$dir" ]; do dir=$(dirname "$dir"); done
    majmin=$(findmnt -n -o MAJ:MIN -T "$dir" | tr -d ' ')
    awk -v mm="$majmin" '$1 ":" $2 == mm {print $3}' /proc/diskstats
}
disk_written_bytes() { # DEVICE: bytes written to it since boot (0 without a device: tmpfs, overlay)
    if [ -z "$1" ]; then echo 0; return; fi
    awk -v d="$1" '$3 == d {v = $10 * 512} END {printf "%.0f\n", v}' /proc/diskstats
}

# --- local registry ------------------------------------------------------------------------------
# one docker-registry per script run, storage kept in REGDIR/storage: each image is pushed once
declare -A REGFILES # IMAGE -> the registry's files of perf/IMAGE (blobs and metadata), read before each run
MANIFEST_MT=application/vnd.oci.image.manifest.v1+json
layout_manifest() { # IMAGE: the digest of the layout's "latest" manifest
    "$PY" -c 'import json, sys
ix = json.load(open(sys.argv[1]))
print(next(m["digest"] for m in ix["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "latest"))' \
        "$IMGDIR/$1/layout/index.json"
}
registry_digest() { # IMAGE: the manifest digest the registry serves for perf/IMAGE:latest (fails if none)
    curl -sfI -H "Accept: $MANIFEST_MT" "http://$REGHOST/v2/perf/$1/manifests/latest" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}'
}
if uses_registry; then
    mkdir -p "$REGDIR"
    reginfo=$("$PY" "$REGPY" start --dir "$REGDIR" --mode plain) || die "the registry did not start (log: $REGDIR/registry.log)"
    REGHOST=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["host"])' "$reginfo")
    REGPID=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["pids"][-1])' "$reginfo")
    say "registry $(docker-registry --version 2>/dev/null | awk '{print $NF}') at $REGHOST (pid $REGPID, storage $REGDIR/storage)"
    for image in "${images[@]}"; do
        want=$(layout_manifest "$image")
        have=$(registry_digest "$image" || true)
        if [ "$have" != "$want" ]; then
            say "pushing $image to $REGHOST/perf/$image:latest (skopeo, once; reused afterwards)"
            pushed=$("$PY" "$REGPY" push --registry-host "$REGHOST" --src "oci:$IMGDIR/$image/layout:latest" \
                --dest "perf/$image:latest" 2>>"$RUNLOG/push.log") || { tail -n 5 "$RUNLOG/push.log" >&2; die "push of $image failed"; }
            have=$(registry_digest "$image" || true)
            [ "$pushed" = "$want" ] && [ "$have" = "$want" ] ||
                die "$image: the registry serves ${have:-nothing} (skopeo pushed $pushed), the layout has $want"
        fi
        v2=$REGDIR/storage/docker/registry/v2
        REGFILES[$image]=$(
            { echo "$want"; meta "$image" 'm["config"]'; meta "$image" '[l["digest"] for l in m["layers"]]'; } |
                while read -r d; do h=${d#sha256:}; echo "$v2/blobs/sha256/${h:0:2}/$h/data"; done
            find "$v2/repositories/perf/$image" -type f
        )
        while read -r f; do [ -s "$f" ] || die "$image: $f missing from the registry's storage"; done <<<"${REGFILES[$image]}"
    done
fi

# --- one run -------------------------------------------------------------------------------------
# Each tool gets: inputs (to pre-read), a command, and an output to remove afterwards.
inputs_for() { # TOOL IMAGE LAYOUT
    case $1 in
    containerd | containerd-sync) echo "$IMGDIR/$2/archive.tar" ;;
    decant-registry | decant-registry-discard | containerd-registry) echo "${REGFILES[$2]}" ;;
    *) find "$3/blobs" -type f ;;
    esac
}
out_for() { # TOOL
    case $1 in
    decant | decant-nosync | decant-copy | decant-registry | decant-registry-discard) echo "$WORK/decant-root" ;;
    umoci) echo "$WORK/umoci-rootfs" ;;
    tar | tar-sync) echo "$WORK/tar-rootfs" ;;
    containerd | containerd-sync | containerd-registry) echo "$CROOT" ;;
    esac
}
# the executables a tool runs and their shared libraries: read once before each run as well, so
# that drop_caches does not make a tool pay for loading itself from disk (decant alone maps
# ~100 MB of Swift runtime and Foundation libraries)
declare -A WARM
for t in "${tools[@]}"; do
    case $t in
    decant | decant-nosync | decant-copy) exes=("$DECANT") ;;
    decant-registry | decant-registry-discard) exes=("$DECANT" "$(command -v docker-registry)") ;;
    containerd) exes=("$(command -v ctr)" "$(command -v unpigz)") ;;
    containerd-sync) exes=("$(command -v ctr)" "$(command -v unpigz)" "$(command -v sync)" "$(command -v bash)") ;;
    containerd-registry) exes=("$(command -v ctr)" "$(command -v unpigz)" "$(command -v docker-registry)") ;;
    umoci) exes=("$(command -v umoci)") ;;
    tar | tar-sync) exes=("$(command -v tar)" "$(command -v pigz)" "$(command -v zstd)" "$(command -v bash)" "$(command -v sync)") ;;
    esac
    WARM[$t]=$(for e in "${exes[@]}"; do
        echo "$e"
        ldd "$e" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
    done | sort -u)
done

remove_output() { # TOOL
    if [ "$FS" = fresh ]; then # the next run makes a new file system anyway
        is_ctr "$1" && stop_containerd
        return 0
    fi
    if is_ctr "$1"; then
        containerd_empty
    else
        unmount_below "$(out_for "$1")"; rm -rf "$(out_for "$1")"
    fi
}

run_once() { # IMAGE ROUND TOOL
    local image=$1 round=$2 tool=$3 comp=${1##*-} out log timing
    local layout=$IMGDIR/$image/layout archive=$IMGDIR/$image/archive.tar
    out=$(out_for "$tool")
    log=$RUNLOG/$image.$tool.$round.log
    if [ "$tool" = umoci ] && [ "$comp" = zstd ]; then
        printf '%s\t%s\t%s\tn/a\n' "$image" "$tool" "$round" >>"$records"
        say "  round $round  $(printf '%-19s' "$tool") n/a (umoci cannot unpack zstd layers)"
        return
    fi

    # untimed: a new file system (fresh mode), settle, empty the page cache, read the input once
    if [ "$FS" = fresh ]; then
        fresh_fs
        is_ctr "$tool" && start_containerd >/dev/null 2>&1
        case $tool in
        tar | tar-sync) mkdir -p "$out" ;;
        decant | decant-nosync | decant-copy)
            cp -a "$layout" "$WORK/layout"
            layout=$WORK/layout
            ;;
        esac
    fi
    local cmd=() # after the daemon's (re)start: SOCK is set by it
    case $tool in
    decant) cmd=(env DECANT_ROOT="$out" "$DECANT" pull --json "oci:$layout:latest") ;;
    decant-nosync) cmd=(env DECANT_ROOT="$out" "$DECANT" pull --json --sync none "oci:$layout:latest") ;;
    decant-copy) cmd=(env DECANT_ROOT="$out" "$DECANT" pull --json --copy-blobs "oci:$layout:latest") ;;
    decant-registry) cmd=(env DECANT_ROOT="$out" "$DECANT" pull --json "$REGHOST/perf/$image:latest") ;;
    decant-registry-discard)
        cmd=(env DECANT_ROOT="$out" "$DECANT" pull --json --discard-unpacked-layers "$REGHOST/perf/$image:latest")
        ;;
    containerd) cmd=(ctr -a "$SOCK" -n "$NS" images import --snapshotter overlayfs "$archive") ;;
    containerd-sync)
        cmd=(bash -c 'ctr -a "$1" -n "$2" images import --snapshotter overlayfs "$3" && sync -f "$4"' _ "$SOCK" "$NS" "$archive" "$CROOT")
        ;;
    containerd-registry) cmd=(ctr -a "$SOCK" -n "$NS" images pull --plain-http --snapshotter overlayfs "$REGHOST/perf/$image:latest") ;;
    umoci) cmd=(umoci raw unpack --image "$layout:latest" "$out") ;;
    tar | tar-sync)
        local prog=pigz
        [ "$comp" = zstd ] && prog=zstd
        mkdir -p "$out"
        mapfile -t blobs < <(meta "$image" '[l["blob"] for l in m["layers"]]')
        cmd=(bash -c 'prog=$1 dir=$2; shift 2; for b; do tar -I "$prog" -xf "$b" -C "$dir" || exit 1; done' _ "$prog" "$out" "${blobs[@]}")
        [ "$tool" = tar ] || cmd[2]+='; sync -f "$dir"'
        ;;
    esac
    sync
    echo 3 >/proc/sys/vm/drop_caches
    { inputs_for "$tool" "$image" "$layout"; echo "${WARM[$tool]}"; } | while read -r f; do [ -z "$f" ] || cat "$f" >/dev/null; done
    local load1 d0=0 d1=0 r0=0 r1=0 b0 b1 s0 s1 w0 w1 disk start end status=ok
    load1=$(awk '{print $1}' /proc/loadavg)
    if is_ctr "$tool"; then
        echo 5 >"/proc/$PID/clear_refs" 2>/dev/null || true # resets VmHWM
        d0=$(proc_cpu_ticks "$PID")
    fi
    if [ -n "$REGPID" ]; then r0=$(proc_cpu_ticks "$REGPID"); fi
    timing=$RUNLOG/.time
    disk=$(disk_of "$out")
    w0=$(disk_written_bytes "$disk")
    b0=$(machine_busy_ticks)
    s0=$(steal_ticks)
    start=$(date +%s%N)
    /usr/bin/time -v -o "$timing" "${cmd[@]}" >"$log" 2>&1 || status=failed
    end=$(date +%s%N)
    b1=$(machine_busy_ticks)
    s1=$(steal_ticks)
    w1=$(disk_written_bytes "$disk")
    if [ -n "$REGPID" ]; then r1=$(proc_cpu_ticks "$REGPID"); fi
    local drss=0
    if is_ctr "$tool"; then
        d1=$(proc_cpu_ticks "$PID")
        drss=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID/status")
        # one snapshot per layer must now exist
        local want have
        want=$(meta "$image" 'len(m["layers"])')
        have=$(c snapshots --snapshotter overlayfs ls | awk 'NR > 1' | wc -l)
        [ "$have" = "$want" ] || { status=failed; echo "containerd: $have snapshots, expected $want" >>"$log"; }
    fi
    local user sys rss
    user=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$timing")
    sys=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$timing")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$timing")
    cat "$timing" >>"$log"
    local wall dcpu rcpu="" busy steal written
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    dcpu=$(awk -v a="$d0" -v b="$d1" -v t="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / t}')
    # the registry's CPU: only for the registry tools (for the others it should be ~0; it is
    # part of others' CPU either way)
    case $tool in *-registry | *-registry-discard) rcpu=$(awk -v a="$r0" -v b="$r1" -v t="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / t}') ;; esac
    busy=$(awk -v a="$b0" -v b="$b1" -v t="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / t}')
    steal=$(awk -v a="$s0" -v b="$s1" -v t="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / t}')
    written=$((w1 - w0))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$image" "$tool" "$round" "$status" \
        "$wall" "$user" "$sys" "$rss" "$dcpu" "$drss" "$busy" "$load1" "$rcpu" "$steal" "$written" >>"$records"
    local extra=""
    is_ctr "$tool" && extra=", daemon CPU ${dcpu} s, daemon peak RSS $((drss / 1024)) MB"
    if [ -n "$rcpu" ]; then extra+=", registry CPU ${rcpu} s"; fi
    say "  round $round  $(printf '%-19s' "$tool") $wall s  $status  (user $user s, sys $sys s, peak RSS $((rss / 1024)) MB$extra; machine busy $busy CPU-s, stolen $steal CPU-s, load $load1, ${disk:-no disk} written $((written / 1000000)) MB)"
    [ $status = ok ] || { say "    FAILED, log: $log"; tail -n 5 "$log" | sed 's/^/    | /' >&2; }

    remove_output "$tool"
}

# --- the rounds ----------------------------------------------------------------------------------
uptime_before=$(uptime)
say "load before: $uptime_before"
say "decant: $DECANT"
say "images: ${images[*]}; tools: ${tools[*]}; runs: $RUNS; file system: $FS; runs log: $RUNLOG"
[ -z "$REGHOST" ] || say "registry: http://$REGHOST (storage $REGDIR/storage)"
started=$(date +%s)
for image in "${images[@]}"; do
    say "$image: $(meta "$image" '"%.0f MB uncompressed, %d entries, %d layers, %.0f MB compressed" % (m["totals"]["uncompressed_size"] / 1e6, m["totals"]["entries"], len(m["layers"]), m["totals"]["size"] / 1e6)')"
    for round in $(seq 1 "$RUNS"); do
        for tool in "${tools[@]}"; do run_once "$image" "$round" "$tool"; done
    done
done
uptime_after=$(uptime)
say "load after: $uptime_after  (runs took $(($(date +%s) - started)) s)"

# --- report --------------------------------------------------------------------------------------
versions=$(
    printf 'containerd=%s\n' "$(containerd --version 2>/dev/null | awk '{print $3}')"
    printf 'umoci=%s\n' "$(umoci --version 2>/dev/null | awk '{print $3}')"
    printf 'tar=%s\n' "$(tar --version | awk 'NR == 1 {print $4}')"
    printf 'pigz=%s\n' "$(pigz --version 2>&1 | awk '{print $2}')"
    printf 'zstd=%s\n' "$(zstd --version | sed -n 's/.*v\([0-9.]*\).*/\1/p')"
    printf 'kernel=%s\n' "$(uname -r)"
    if uses_registry; then
        printf 'docker-registry=%s\n' "$(docker-registry --version 2>/dev/null | awk '{print $NF}')"
        printf 'skopeo=%s\n' "$(skopeo --version 2>/dev/null | awk '{print $3}')"
    fi
)
"$PY" "$here/compare-report.py" \
    --records "$records" --imgdir "$IMGDIR" --runlog "$RUNLOG" --out "$OUT" \
    --images "$IMAGES" --tools "$TOOLS" --runs "$RUNS" --quick "$QUICK" \
    --decant "$DECANT" --git "$git_rev" --git-dirty "$git_dirty" --fs "$FS" \
    --uptime-before "$uptime_before" --uptime-after "$uptime_after" --versions "$versions"
say "results: $OUT"
