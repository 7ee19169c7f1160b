# private-containerd.sh — start, check and stop a private containerd 1.6 for fixture scripts.
# (bash library: source it, do not run it)
#
# Used by Tests/Fixtures/containerd-reference.sh and Tests/ImageFixtures/containerd-images.sh.
# The caller runs as root, has checked that containerd and ctr exist, and owns the traps:
#
#   . "$FIXTURES/private-containerd.sh"
#   PRIVATE_CONTAINERD_SOCKDIR_PREFIX=/tmp/decant-xyz   # optional, see below
#   cleanup() {
#       local rc=$?
#       private_containerd_stop                 # no-op if it never started
#       private_containerd_unmount_below "$CD"
#       exit "$rc"
#   }
#   trap cleanup EXIT
#   trap 'exit 130' INT TERM
#   private_containerd_unmount_below "$CD"; rm -rf "$CD"
#   private_containerd_start "$CD" "$CD/root" [CONTAINERD_DISABLE_PIGZ=1 ...] || exit 1
#   private_containerd_check_snapshotters overlayfs native || exit 1
#   ctr -a "$SOCK" -n NAMESPACE ...
#
# private_containerd_start DIR ROOT [ENV=VALUE...]
#     Writes DIR/config.toml (root ROOT, state DIR/state, opt DIR/opt; CRI, tracing and the
#     aufs/btrfs/devmapper/zfs snapshotters disabled; no metrics) and starts
#     `containerd --config DIR/config.toml` in the background with the extra environment
#     ENV=VALUE..., from the empty directory DIR/cwd (containerd 1.6 resolves some hardlink
#     names relative to its cwd), logging to DIR/containerd.log. The gRPC, ttrpc and debug
#     sockets go in DIR/run, or, when that path is too long for a unix socket, in a fresh
#     `mktemp -d "$PRIVATE_CONTAINERD_SOCKDIR_PREFIX.XXXXXX"` (default /tmp/decant-containerd).
#     Sets PID (the daemon), SOCKDIR and SOCK (the gRPC socket, for `ctr -a "$SOCK"`), then
#     waits up to 30 s for `ctr version` to answer. Returns 1 (after printing the end of the
#     log to stderr) if the daemon dies or does not answer; PID is set as soon as it started,
#     so private_containerd_stop still applies.
# private_containerd_check_snapshotters NAME...
#     Returns 1, printing `ctr plugins ls` to stderr, unless every io.containerd.snapshotter.v1
#     NAME plugin of the running daemon is ok.
# private_containerd_stop
#     SIGTERM to the daemon, SIGKILL after 5 s, reaps it; removes the /tmp socket directory if
#     one was made. Safe to call before private_containerd_start or twice.
# private_containerd_unmount_below DIR
#     Lazily unmounts every mount point below DIR/, deepest first (errors ignored).
#
# Globals: PID, SOCKDIR, SOCK (reset here, set by private_containerd_start),
# PRIVATE_CONTAINERD_SOCKDIR_PREFIX (read), _private_containerd_tmpsockdir (internal).
# Messages are prefixed with "$0: ", i.e. the sourcing script's name.

PID=
SOCKDIR=
SOCK=
_private_containerd_tmpsockdir=

private_containerd_start() { # DIR ROOT [ENV=VALUE...]
    local dir=$1 root=$2 ready= _
    shift 2
    mkdir -p "$dir/run" "$dir/cwd" || return 1
    SOCKDIR=$dir/run
    if [ ${#SOCKDIR} -gt 80 ]; then
        _private_containerd_tmpsockdir=$(
            mktemp -d "${PRIVATE_CONTAINERD_SOCKDIR_PREFIX:-/tmp/decant-containerd}.XXXXXX"
        ) || return 1
        SOCKDIR=$_private_containerd_tmpsockdir
    fi
    SOCK=$SOCKDIR/containerd.sock

    cat >"$dir/config.toml" <<EOF || return 1
version = 2
root = "$root"
state = "$dir/state"
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
  path = "$dir/opt"
EOF

    (cd "$dir/cwd" && exec env "$@" containerd --config "$dir/config.toml") \
        >"$dir/containerd.log" 2>&1 &
    PID=$!

    for _ in $(seq 300); do
        kill -0 "$PID" 2>/dev/null || break
        if [ -S "$SOCK" ] && ctr -a "$SOCK" version >/dev/null 2>&1; then ready=1; break; fi
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        echo "$0: containerd did not start (socket $SOCK); last log lines:" >&2
        tail -n 30 "$dir/containerd.log" >&2 || true
        return 1
    fi
}

private_containerd_check_snapshotters() { # NAME...
    local s
    for s in "$@"; do
        if ! ctr -a "$SOCK" plugins ls 2>/dev/null |
            grep -E "io.containerd.snapshotter.v1 +$s +.* ok" >/dev/null; then
            echo "$0: snapshotter $s is not available in the private containerd:" >&2
            ctr -a "$SOCK" plugins ls >&2 || true
            return 1
        fi
    done
}

private_containerd_stop() {
    local _
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill "$PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [ -n "$_private_containerd_tmpsockdir" ]; then
        rm -rf "$_private_containerd_tmpsockdir"
        _private_containerd_tmpsockdir=
    fi
}

private_containerd_unmount_below() { # DIR
    local m
    awk '{print $5}' /proc/self/mountinfo | { grep -F "$1/" || true; } | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
