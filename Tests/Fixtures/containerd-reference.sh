#!/usr/bin/env bash
# containerd-reference.sh — record what containerd 1.6 writes for every case of make-layers.py.
#
# Usage:  sudo Tests/Fixtures/containerd-reference.sh CASESDIR
#         (CASESDIR is the OUTDIR of make-layers.py; run as root; needs containerd, ctr,
#          python3, overlayfs.  DECANT_REF_DISABLE_PIGZ=1 makes containerd inflate gzip with Go's
#          reader instead of unpigz.)
#
# Starts a private containerd (root, state, config and log in CASESDIR/containerd/, sockets
# there too or in a short /tmp/decant-ref.* dir when the path is too long for a unix socket; CRI
# and everything network-related disabled), and for every case imports an OCI archive of the
# layers [base, case] twice with `ctr images import`, once with --snapshotter overlayfs and
# once with --snapshotter native (ctr 1.6 import unpacks by default, for the host platform).
# Writes:
#   CASESDIR/ref/NAME/overlay-base.json  treedump of the base layer's overlay upper dir (fs)
#   CASESDIR/ref/NAME/overlay.json       treedump of the case layer's overlay upper dir (fs)
#   CASESDIR/ref/NAME/native.json        treedump of the case layer's native snapshot dir
#   CASESDIR/ref/NAME/containerd-error.txt     error cases: ctr's error (overlayfs import)
#   CASESDIR/ref/NAME/containerd-accepted.txt  error cases containerd accepted (trees dumped too)
#   CASESDIR/ref/NAME/native-error.txt / native-accepted.txt   same for the native import
#   CASESDIR/ref/summary.txt             one line per case
# Snapshot directories are found from the snapshotter's own bolt metadata
# (containerd-ref-helper.py snapdir): ROOT/io.containerd.snapshotter.v1.overlayfs/snapshots/<id>/fs
# and ROOT/io.containerd.snapshotter.v1.native/snapshots/<id>.
# Idempotent: wipes CASESDIR/containerd and CASESDIR/ref first. The daemon is always stopped and
# leftover mounts under CASESDIR/containerd unmounted on exit. Exits non-zero if containerd does
# not start, if an "ok" case fails to import, or if a hostile case wrote outside its root.

set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/cases.json" ]; then
    echo "usage: $0 CASESDIR   (a directory written by make-layers.py)" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "$0: must run as root (mknod, chown, trusted.* xattrs, mounts)" >&2
    exit 2
fi
for tool in containerd ctr python3; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 2; }
done

CASESDIR=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")
HELPER=(python3 "$HERE/containerd-ref-helper.py")
TREEDUMP=(python3 "$HERE/treedump.py")
CD=$CASESDIR/containerd
ROOT=$CD/root
REF=$CASESDIR/ref
NS=decant-ref
PID=
SOCKDIR=

unmount_all() {
    # deepest first; only mounts below our private directory
    local m
    awk '{print $5}' /proc/self/mountinfo | { grep -F "$CD/" || true; } | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

cleanup() {
    local rc=$?
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill "$PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    unmount_all
    if [ -n "$SOCKDIR" ] && [ "$SOCKDIR" != "$CD/run" ]; then rm -rf "$SOCKDIR"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START=$(date +%s.%N)

# ---- fresh private containerd --------------------------------------------------------------
unmount_all
rm -rf "$CD" "$REF"
mkdir -p "$CD/run" "$CD/cwd" "$CD/archives" "$REF"
SOCKDIR=$CD/run
if [ ${#SOCKDIR} -gt 80 ]; then
    SOCKDIR=$(mktemp -d /tmp/decant-ref.XXXXXX)
fi
SOCK=$SOCKDIR/containerd.sock

cat >"$CD/config.toml" <<EOF
version = 2
root = "$ROOT"
state = "$CD/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = "$SOCKDIR/debug.sock"
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CD/opt"
EOF

ENVS=()
if [ "${DECANT_REF_DISABLE_PIGZ:-}" = 1 ]; then ENVS+=(CONTAINERD_DISABLE_PIGZ=1); fi
# cwd is an empty directory: containerd 1.6 resolves some hardlink names relative to its cwd
(cd "$CD/cwd" && exec env "${ENVS[@]}" containerd --config "$CD/config.toml") \
    >"$CD/containerd.log" 2>&1 &
PID=$!

ready=
for _ in $(seq 300); do
    if ! kill -0 "$PID" 2>/dev/null; then break; fi
    if [ -S "$SOCK" ] && ctr -a "$SOCK" version >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "$0: containerd did not start (socket $SOCK); last log lines:" >&2
    tail -n 30 "$CD/containerd.log" >&2 || true
    exit 1
fi
for s in overlayfs native; do
    if ! ctr -a "$SOCK" plugins ls 2>/dev/null | grep -E "io.containerd.snapshotter.v1 +$s +.* ok" >/dev/null; then
        echo "$0: snapshotter $s is not available in the private containerd:" >&2
        ctr -a "$SOCK" plugins ls >&2 || true
        exit 1
    fi
done

# ---- cases ---------------------------------------------------------------------------------
failures=0
summary=$REF/summary.txt
: >"$summary"

dump_snapshot() { # SNAPSHOTTER CHAINID OUTFILE
    local dir
    dir=$("${HELPER[@]}" snapdir "$ROOT/io.containerd.snapshotter.v1.$1" "$NS" "$2") || return 1
    "${TREEDUMP[@]}" "$dir" --out "$3"
}

# hostile cases must not create anything next to a snapshot root or at the host root
check_confined() { # NAME
    local bad
    bad=$(find "$ROOT" -mindepth 1 \( -name 'tripwire-*' -o -name 'escape[0-9]' -o -name abs \) \
              -not -regex '.*/snapshots/[0-9]+/fs/[^/]*' \
              -not -regex '.*/io.containerd.snapshotter.v1.native/snapshots/[0-9]+/[^/]*' \
              -print 2>/dev/null || true)
    for p in /tripwire-dir /tripwire-file /escape1 /escape2 /escape3 /escape4 /abs /evil; do
        [ -e "$p" ] && bad="$bad $p"
    done
    if [ -n "$bad" ]; then
        echo "CONFINEMENT FAILURE in $1: $bad" | tee -a "$summary" >&2
        failures=$((failures + 1))
    fi
}

while read -r name expect; do
    out=$REF/$name
    mkdir -p "$out"
    archive=$CD/archives/$name.tar
    info=$("${HELPER[@]}" archive "$CASESDIR" "$name" "$archive")
    read -r image chains <<<"$info"
    read -ra chain <<<"$chains"
    top=${chain[${#chain[@]}-1]}
    result=()
    for snap in overlayfs native; do
        set +e
        log=$(ctr -a "$SOCK" -n "$NS" images import --snapshotter "$snap" "$archive" 2>&1)
        rc=$?
        set -e
        if [ "$snap" = overlayfs ]; then prefix=containerd; jsonname=overlay.json; else prefix=native; jsonname=native.json; fi
        if [ $rc -ne 0 ]; then
            printf '%s\n' "$log" >"$out/$prefix-error.txt"
            if [ "$expect" = ok ]; then
                echo "FAIL $name ($snap): ok case rejected by containerd:" >&2
                printf '%s\n' "$log" >&2
                failures=$((failures + 1))
                result+=("$snap=REJECTED")
            else
                result+=("$snap=rejected")
            fi
            continue
        fi
        if [ "$expect" != ok ]; then
            printf 'containerd accepted this layer (%s snapshotter)\n%s\n' "$snap" "$log" \
                >"$out/$prefix-accepted.txt"
            result+=("$snap=ACCEPTED")
        else
            result+=("$snap=ok")
        fi
        if ! dump_snapshot "$snap" "$top" "$out/$jsonname"; then
            echo "FAIL $name ($snap): snapshot $top not found after import" >&2
            failures=$((failures + 1))
            continue
        fi
        if [ "$snap" = overlayfs ] && [ ${#chain[@]} -gt 1 ]; then
            dump_snapshot overlayfs "${chain[0]}" "$out/overlay-base.json" || {
                echo "FAIL $name: base snapshot not found" >&2
                failures=$((failures + 1))
            }
        fi
    done
    case $name in hostile-*) check_confined "$name" ;; esac
    echo "$name expect=$expect ${result[*]}" >>"$summary"
done < <("${HELPER[@]}" list "$CASESDIR")

END=$(date +%s.%N)
cat "$summary"
printf 'containerd %s, %s cases in %.1f s; results in %s\n' \
    "$(containerd --version | awk '{print $3}')" "$(wc -l <"$summary")" \
    "$(python3 -c "print($END - $START)")" "$REF"
if [ $failures -ne 0 ]; then
    echo "$0: $failures failure(s)" >&2
    exit 1
fi
