#!/usr/bin/env bash
# containerd-reference.sh — record what containerd 1.6 writes for every case of make-layers.py.
#
# Usage:  sudo Tests/Fixtures/containerd-reference.sh CASESDIR
#         (CASESDIR is the OUTDIR of make-layers.py; run as root; needs containerd, ctr,
#          python3, overlayfs.  DECANT_REF_DISABLE_PIGZ=1 makes containerd inflate gzip with Go's
#          reader instead of unpigz.)
#
# Starts a private containerd with private-containerd.sh (root, state, config and log in
# CASESDIR/containerd/, sockets there too or in a short /tmp/decant-ref.* dir when the path is
# too long for a unix socket; CRI and everything network-related disabled), builds OCI image
# archives of the layers [base, case] (containerd-ref-helper.py prepare) and imports them with
# `ctr images import`, once with --snapshotter overlayfs and once with --snapshotter native
# (ctr 1.6 import unpacks by default, for the host platform). The ok cases share one archive
# (one import per snapshotter); error cases are imported one by one.
# Writes:
#   CASESDIR/ref/NAME/overlay-base.json  treedump of the base layer's overlay upper dir (fs)
#   CASESDIR/ref/NAME/overlay.json       treedump of the case layer's overlay upper dir (fs)
#   CASESDIR/ref/NAME/native.json        treedump of the case layer's native snapshot dir
#   CASESDIR/ref/NAME/unstable-mtime.json  per dump, paths whose mtime is the extraction time
#                                          (implicit dirs; native: dirs copied from the parent)
#   CASESDIR/ref/NAME/containerd-error.txt     error cases: ctr's output (overlayfs import)
#   CASESDIR/ref/NAME/containerd-accepted.txt  error cases containerd accepted (trees dumped too)
#   CASESDIR/ref/NAME/native-error.txt / native-accepted.txt   same for the native import
#   CASESDIR/ref/summary.txt             one line per case
# Snapshot directories are found from the snapshotter's own bolt metadata
# (containerd-ref-helper.py snapdir ROOT/io.containerd.snapshotter.v1.X decant-ref CHAINID):
# ROOT/io.containerd.snapshotter.v1.overlayfs/snapshots/<id>/fs and
# ROOT/io.containerd.snapshotter.v1.native/snapshots/<id>, ROOT = CASESDIR/containerd/root.
# Idempotent: wipes CASESDIR/containerd and CASESDIR/ref first. The daemon is always stopped and
# leftover mounts under CASESDIR/containerd unmounted on exit; its root is left for inspection.
# Exits non-zero if containerd does not start, if an "ok" case fails to import or its snapshot
# is missing, if overlay extraction-time mtimes differ from cases.json ignoreMtime, or if a
# hostile case wrote outside its root.

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
# the real interpreter, not a version-manager shim (those add ~0.2 s per call)
PY=$(python3 -c 'import sys; print(sys.executable)')
HELPER=("$PY" "$HERE/containerd-ref-helper.py")
CD=$CASESDIR/containerd
ROOT=$CD/root
REF=$CASESDIR/ref
NS=decant-ref
# private_containerd_start/_check_snapshotters/_stop/_unmount_below; sets PID, SOCKDIR, SOCK
. "$HERE/private-containerd.sh"
PRIVATE_CONTAINERD_SOCKDIR_PREFIX=/tmp/decant-ref

cleanup() {
    local rc=$?
    private_containerd_stop
    # only mounts below our private directory
    private_containerd_unmount_below "$CD"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START_NS=$(date +%s%N)

# ---- fresh private containerd --------------------------------------------------------------
private_containerd_unmount_below "$CD"
rm -rf "$CD" "$REF"
mkdir -p "$CD/archives" "$REF"
ENVS=()
if [ "${DECANT_REF_DISABLE_PIGZ:-}" = 1 ]; then ENVS+=(CONTAINERD_DISABLE_PIGZ=1); fi
private_containerd_start "$CD" "$ROOT" "${ENVS[@]}" || exit 1
private_containerd_check_snapshotters overlayfs native || exit 1

# ---- cases ---------------------------------------------------------------------------------
# All "ok" cases go in one archive imported once per snapshotter (ctr unpacks the images one
# after another); if that import fails, they are imported one by one to find the culprit.
# Error cases are imported one by one (ctr stops at the first unpack error).
failures=0
status=$CD/status.txt
: >"$status"
plan=$("${HELPER[@]}" prepare "$CASESDIR" "$CD/archives")
mapfile -t ok_cases < <(awk '$2 == "ok" {print $1}' <<<"$plan")
mapfile -t err_cases < <(awk '$2 == "error" {print $1}' <<<"$plan")

ctr_import() { # SNAPSHOTTER ARCHIVE  -> $log, returns ctr's exit code
    local rc=0
    log=$(ctr -a "$SOCK" -n "$NS" images import --snapshotter "$1" "$2" 2>&1) || rc=$?
    return $rc
}

for snap in overlayfs native; do
    if [ "$snap" = overlayfs ]; then prefix=containerd; else prefix=native; fi
    if [ ${#ok_cases[@]} -eq 0 ]; then
        :
    elif ctr_import "$snap" "$CD/archives/all-ok.tar"; then
        for name in "${ok_cases[@]}"; do echo "$name $snap ok" >>"$status"; done
    else
        echo "batch import ($snap) failed, importing ok cases one by one: ${log##*$'\n'}" >&2
        for name in "${ok_cases[@]}"; do
            if ctr_import "$snap" "$CD/archives/$name.tar"; then
                echo "$name $snap ok" >>"$status"
            else
                mkdir -p "$REF/$name"
                printf '%s\n' "$log" >"$REF/$name/$prefix-error.txt"
                echo "FAIL $name ($snap): ok case rejected by containerd: ${log##*$'\n'}" >&2
                echo "$name $snap REJECTED" >>"$status"
                failures=$((failures + 1))
            fi
        done
    fi
    for name in "${err_cases[@]}"; do
        mkdir -p "$REF/$name"
        if ctr_import "$snap" "$CD/archives/$name.tar"; then
            printf 'containerd accepted this layer (%s snapshotter)\n%s\n' "$snap" "$log" \
                >"$REF/$name/$prefix-accepted.txt"
            echo "$name $snap accepted" >>"$status"
        else
            printf '%s\n' "$log" >"$REF/$name/$prefix-error.txt"
            echo "$name $snap rejected" >>"$status"
        fi
    done
done

if ! "${HELPER[@]}" dump-all "$CASESDIR" "$ROOT" "$NS" "$START_NS" "$status" >&2; then
    failures=$((failures + 1))
fi

# hostile cases must not have created anything next to a snapshot root or at the host root
bad=$(find "$ROOT" -mindepth 1 \( -name 'tripwire-*' -o -name 'escape[0-9]' -o -name abs \
          -o -name evil \) \
          -not -regex '.*/io.containerd.snapshotter.v1.overlayfs/snapshots/[0-9]+/fs/[^/]*' \
          -not -regex '.*/io.containerd.snapshotter.v1.native/snapshots/[0-9]+/[^/]*' \
          -print 2>/dev/null || true)
for p in /tripwire-dir /tripwire-file /escape1 /escape2 /escape3 /escape4 /abs /evil; do
    if [ -e "$p" ] || [ -L "$p" ]; then bad="$bad $p"; fi
done
if [ -n "$bad" ]; then
    echo "CONFINEMENT FAILURE: $bad" >&2
    failures=$((failures + 1))
fi

# summary: NAME expect=ok|error overlayfs=... native=...
summary=$REF/summary.txt
while read -r name expect _; do
    o=$(awk -v n="$name" '$1 == n && $2 == "overlayfs" {print $3}' "$status")
    n=$(awk -v n="$name" '$1 == n && $2 == "native" {print $3}' "$status")
    echo "$name expect=$expect overlayfs=$o native=$n"
done <<<"$plan" >"$summary"
cat "$summary"
accepted=$(awk '$3 == "accepted" {print $1 "(" $2 ")"}' "$status" | tr '\n' ' ')
[ -z "$accepted" ] || echo "error cases containerd accepted: $accepted"

END_NS=$(date +%s%N)
printf 'containerd %s: %d cases in %d.%01d s; results in %s\n' \
    "$(containerd --version | awk '{print $3}')" "$(wc -l <"$summary")" \
    $(((END_NS - START_NS) / 1000000000)) $((((END_NS - START_NS) / 100000000) % 10)) "$REF"
if [ $failures -ne 0 ]; then
    echo "$0: $failures failure(s)" >&2
    exit 1
fi
