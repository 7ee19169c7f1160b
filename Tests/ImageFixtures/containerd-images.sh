#!/usr/bin/env bash
# containerd-images.sh — record what containerd 1.6 unpacks for every image of make-images.py.
#
# Usage:  sudo Tests/ImageFixtures/containerd-images.sh OUTDIR
#         (OUTDIR is the output of make-images.py; run as root; needs containerd, ctr, python3,
#          overlayfs.)
#
# Starts ONE private containerd with ../Fixtures/private-containerd.sh (config, root, state and
# log in OUTDIR/containerd/; sockets there, or in a short /tmp/decant-img.* dir when the path is
# too long for a unix socket; CRI, tracing and the other snapshotters disabled), then:
#   ok images    `ctr -n decant-ref images import --snapshotter overlayfs --platform linux/amd64
#                 --base-name docker.io/decant-ref/NAME OUTDIR/NAME.oci.tar` (ctr 1.6 unpacks on
#                import; --base-name turns the "latest" ref.name into a distinct image name),
#                then the same with --snapshotter native.
#   docker       every NAME.docker.tar is imported (1) into decant-ref after its OCI twin: it
#   archives     must resolve to the same chainIDs, so nothing new is unpacked; (2) into the
#                empty namespace decant-ref-docker, where it is unpacked again: every layer's
#                upper dir must equal the OCI import's (extraction-time mtimes aside).
#   bad images   imported one by one into namespace decant-ref-bad (so that the snapshots they
#                leave do not mix with the ok images'); what ctr says is recorded.
# Writes:
#   OUTDIR/ref/NAME/layer-<i>.json        treedump of layer i's overlay upper dir (the committed
#                                         snapshot named chainID(i))
#   OUTDIR/ref/NAME/merged.json           treedump of an overlay mount of a view of the top
#                                         chainID (`ctr snapshots view --target` prints the
#                                         mount command; unmounted and removed afterwards)
#   OUTDIR/ref/NAME/native-merged.json    treedump of the top snapshot of the native snapshotter
#   OUTDIR/ref/NAME/unstable-mtime.json   {"layer-<i>"|"merged"|"native-merged": [paths]}: paths
#                                         whose mtime is the extraction time (measured: between
#                                         the start of this script and now); for layers it must
#                                         equal images.json's unstableMtime
#   OUTDIR/ref/NAME/docker-import.txt     docker archives: what ctr did with them
#   OUTDIR/ref/NAME/containerd-error.txt / containerd-accepted.txt   bad images: ctr's output
#   OUTDIR/ref/snapshots.txt              `ctr snapshots ls` of decant-ref after all imports
#   OUTDIR/ref/summary.txt                one line per image
# Idempotent: wipes OUTDIR/containerd and OUTDIR/ref first. On exit (also on error or ^C) the
# daemon is stopped and every mount below OUTDIR/containerd is unmounted; the root is kept for
# inspection. Exits non-zero if containerd does not start or lacks a snapshotter, if an ok image
# fails to import or unpack, if a layer's extraction-time mtimes differ from images.json, if a
# docker archive unpacks anything new or differently, or if the snapshot list is not exactly
# the ok images' chainIDs. Bad images never fail the script: containerd's verdicts are recorded.

set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/images.json" ]; then
    echo "usage: $0 OUTDIR   (a directory written by make-images.py)" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "$0: must run as root (mknod, chown, trusted.* xattrs, mounts)" >&2
    exit 2
fi
for tool in containerd ctr python3 mount umount; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 2; }
done

OUTDIR=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")
FIXTURES=$(dirname "$HERE")/Fixtures
PY=$(python3 -c 'import sys; print(sys.executable)')
HELPER=("$PY" "$HERE/containerd-images-helper.py")
REFHELPER=("$PY" "$FIXTURES/containerd-ref-helper.py")
CD=$OUTDIR/containerd
ROOT=$CD/root
REF=$OUTDIR/ref
NS=decant-ref
BADNS=decant-ref-bad
DOCKERNS=decant-ref-docker
OVL=$ROOT/io.containerd.snapshotter.v1.overlayfs
NATIVE=$ROOT/io.containerd.snapshotter.v1.native
# private_containerd_start/_check_snapshotters/_stop/_unmount_below; sets PID, SOCKDIR, SOCK
. "$FIXTURES/private-containerd.sh"
PRIVATE_CONTAINERD_SOCKDIR_PREFIX=/tmp/decant-img

cleanup() {
    local rc=$?
    # the merged views mounted below $CD/mnt first, then the daemon, then what it left
    private_containerd_unmount_below "$CD"
    private_containerd_stop
    private_containerd_unmount_below "$CD"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START_NS=$(date +%s%N)

# ---- fresh private containerd --------------------------------------------------------------
private_containerd_unmount_below "$CD"
rm -rf "$CD" "$REF"
mkdir -p "$CD/mnt" "$REF"
private_containerd_start "$CD" "$ROOT" || exit 1
private_containerd_check_snapshotters overlayfs native || exit 1

c() { ctr -a "$SOCK" "$@"; }

# ctr_import NAMESPACE SNAPSHOTTER ARCHIVE [ctr import options...]  -> $log, returns ctr's status
ctr_import() {
    local ns=$1 snap=$2 archive=$3 rc=0
    shift 3
    log=$(c -n "$ns" images import --snapshotter "$snap" --platform linux/amd64 "$@" \
              "$archive" 2>&1) || rc=$?
    return $rc
}

has_snapshot() { # NAMESPACE SNAPSHOTTER KEY
    c -n "$1" snapshots --snapshotter "$2" info "$3" >/dev/null 2>&1
}

failures=0
fail() { echo "FAIL $*" >&2; failures=$((failures + 1)); }
summary=$REF/summary.txt
: >"$summary"

# ---- ok images -----------------------------------------------------------------------------
mapfile -t plan < <("${HELPER[@]}" plan "$OUTDIR")
for line in "${plan[@]}"; do
    read -r name expect docker repotag chains <<<"$line"
    [ "$expect" = ok ] || continue
    read -ra chain <<<"$chains"
    top=${chain[-1]}
    mkdir -p "$REF/$name"
    result=ok

    # overlayfs: every layer's upper dir, then the merged view
    if ! ctr_import "$NS" overlayfs "$OUTDIR/$name.oci.tar" --base-name "docker.io/decant-ref/$name"
    then
        fail "$name: ctr import (overlayfs) failed: $log"
        echo "$name ok-expected overlayfs=IMPORT-FAILED" >>"$summary"
        continue
    fi
    if ! has_snapshot "$NS" overlayfs "$top"; then
        fail "$name: imported but not unpacked (no overlayfs snapshot $top): $log"
        echo "$name ok-expected overlayfs=NOT-UNPACKED" >>"$summary"
        continue
    fi
    "${HELPER[@]}" dump-layers "$OUTDIR" "$OVL" "$NS" "$name" "$START_NS" || {
        fail "$name: layer dumps"; result=FAIL; }

    view=decant-view-$name
    mnt=$CD/mnt/$name
    mkdir -p "$mnt"
    # ctr snapshots view takes no lease, so containerd's GC may collect the view at any time
    # (seen after a few seconds): take the mount command from the view call itself, label the
    # view as a GC root at once, and tolerate its disappearance (the mount only references the
    # committed parents). Prints "mount -t overlay overlay TARGET -o index=off,lowerdir=A:B:..."
    # (a bind mount for a one-layer image).
    mcmd=$(c -n "$NS" snapshots --snapshotter overlayfs view --target "$mnt" "$view" "$top")
    c -n "$NS" snapshots --snapshotter overlayfs label "$view" containerd.io/gc.root=decant \
        >/dev/null 2>&1 || true
    read -ra margv <<<"$mcmd"
    if [ "${margv[0]:-}" != mount ] || [[ " $mcmd " != *" $mnt "* ]]; then
        fail "$name: unexpected mount command from ctr snapshots view: $mcmd"; result=FAIL
    else
        "${margv[@]}"
        "${HELPER[@]}" dump-tree "$OUTDIR" "$name" merged "$mnt" "$START_NS"
        umount "$mnt"
    fi
    c -n "$NS" snapshots --snapshotter overlayfs rm "$view" >/dev/null 2>&1 || true
    if has_snapshot "$NS" overlayfs "$view"; then fail "$name: cannot remove the view $view"; fi

    # native: the top snapshot's directory is the whole rootfs
    nres=unpacked
    if ! ctr_import "$NS" native "$OUTDIR/$name.oci.tar" --base-name "docker.io/decant-ref/$name"
    then
        fail "$name: ctr import (native) failed: $log"; nres=IMPORT-FAILED
    elif ! d=$("${REFHELPER[@]}" snapdir "$NATIVE" "$NS" "$top"); then
        fail "$name: no native snapshot $top"; nres=NOT-UNPACKED
    else
        "${HELPER[@]}" dump-tree "$OUTDIR" "$name" native-merged "$d" "$START_NS"
    fi

    # docker save archive, twice: (1) into decant-ref after its OCI twin: same diffIDs, so
    # same chainIDs, so nothing new may be unpacked; (2) into the empty namespace
    # decant-ref-docker, where it is unpacked from scratch: every layer's upper dir must equal
    # the OCI import's (mtimes of extraction-time paths aside).
    dres=-
    if [ "$docker" != - ]; then
        dlog=$REF/$name/docker-import.txt
        before=$(c -n "$NS" snapshots --snapshotter overlayfs ls | wc -l)
        if ctr_import "$NS" overlayfs "$OUTDIR/$docker"; then
            after=$(c -n "$NS" snapshots --snapshotter overlayfs ls | wc -l)
            img=$(c -n "$NS" images ls | awk -v t="$repotag" \
                      'index($1, t) == length($1) - length(t) + 1 {print $1, $3, $2}')
            {
                echo "## ctr -n $NS images import --snapshotter overlayfs --platform linux/amd64" \
                    "$docker   (after the OCI import of $name)"
                printf '%s\n' "$log"
                echo "image: ${img:-<none named *$repotag>}"
                echo "overlayfs snapshots in $NS before: $((before - 1)), after: $((after - 1))"
                echo "layers of the manifest ctr made (mediaType digest size):"
                [ -z "$img" ] || c -n "$NS" content get "$(awk '{print $2}' <<<"$img")" |
                    "${HELPER[@]}" manifest-layers
            } >"$dlog"
            if [ -z "$img" ]; then
                fail "$name: docker archive imported but no image named *$repotag"; dres=NO-IMAGE
            elif [ "$before" != "$after" ] || ! has_snapshot "$NS" overlayfs "$top"; then
                fail "$name: docker archive unpacked new snapshots ($before -> $after lines)"
                dres=NEW-SNAPSHOTS
            else
                dres=same-chainIDs
            fi
        else
            printf 'ctr import into %s failed\n%s\n' "$NS" "$log" >"$dlog"
            fail "$name: docker archive import failed: $log"
            dres=IMPORT-FAILED
        fi
        if ctr_import "$DOCKERNS" overlayfs "$OUTDIR/$docker"; then
            {
                echo
                echo "## ctr -n $DOCKERNS images import --snapshotter overlayfs" \
                    "--platform linux/amd64 $docker   (empty namespace)"
                printf '%s\n' "$log"
                img=$(c -n "$DOCKERNS" images ls | awk -v t="$repotag" \
                          'index($1, t) == length($1) - length(t) + 1 {print $1, $3, $2}')
                echo "image: ${img:-<none named *$repotag>}"
                echo "layers of the manifest ctr made (mediaType digest size):"
                [ -z "$img" ] || c -n "$DOCKERNS" content get "$(awk '{print $2}' <<<"$img")" |
                    "${HELPER[@]}" manifest-layers
                echo "upper dirs compared with the OCI import's layer-<i>.json:"
            } >>"$dlog"
            if ! "${HELPER[@]}" compare-layers "$OUTDIR" "$OVL" "$DOCKERNS" "$name" "$START_NS" \
                "$CD/docker-dumps" >>"$dlog"; then
                fail "$name: docker archive unpacks differently from the OCI archive (see $dlog)"
                dres=$dres,DIFFERENT-TREES
            else
                dres=$dres,same-trees
            fi
        else
            printf 'ctr import into %s failed\n%s\n' "$DOCKERNS" "$log" >>"$dlog"
            fail "$name: docker archive import into $DOCKERNS failed: $log"
            dres=$dres,IMPORT-FAILED
        fi
    fi
    echo "$name ok-expected overlayfs=unpacked native=$nres docker=$dres dumps=$result" \
        >>"$summary"
done

c -n "$NS" snapshots --snapshotter overlayfs ls >"$REF/snapshots.txt"
"${HELPER[@]}" check-snapshots "$OUTDIR" "$NS" "$REF/snapshots.txt" || fail "snapshot list"

# ---- bad images ----------------------------------------------------------------------------
for line in "${plan[@]}"; do
    read -r name expect _ _ chains <<<"$line"
    [ "$expect" = error ] || continue
    read -ra chain <<<"$chains"
    mkdir -p "$REF/$name"
    if ctr_import "$BADNS" overlayfs "$OUTDIR/$name.oci.tar" --base-name "docker.io/decant-ref/$name"
    then
        if has_snapshot "$BADNS" overlayfs "${chain[-1]}"; then what=unpacked; else
            what=imported-not-unpacked; fi
        printf 'containerd ACCEPTED this image (%s)\n%s\n' "$what" "$log" \
            >"$REF/$name/containerd-accepted.txt"
        echo "$name error-expected containerd=accepted($what)" >>"$summary"
    else
        printf '%s\n' "$log" >"$REF/$name/containerd-error.txt"
        msg=$(grep -m1 '^ctr:' <<<"$log" || tail -n 1 <<<"$log")
        echo "$name error-expected containerd=rejected: $msg" >>"$summary"
    fi
done

cat "$summary"
END_NS=$(date +%s%N)
printf 'containerd %s: %d images in %d.%01d s; results in %s\n' \
    "$(containerd --version | awk '{print $3}')" "${#plan[@]}" \
    $(((END_NS - START_NS) / 1000000000)) $((((END_NS - START_NS) / 100000000) % 10)) "$REF"
if [ $failures -ne 0 ]; then
    echo "$0: $failures failure(s)" >&2
    exit 1
fi
