#!/usr/bin/env bash
# Builds the benchmark layer from files already on this machine (no network):
#   OUTDIR/layer.tar       uncompressed tar, the diff the layer stands for
#   OUTDIR/layer.tar.gz    pigz -6 (gzip -6 -n when pigz is missing)
#   OUTDIR/layer.tar.zst   zstd -3
#   OUTDIR/layer.env       UNCOMPRESSED_BYTES, ENTRIES, GZIP_BYTES, ZSTD_BYTES, FILE_BYTES (KEY=VALUE)
#
#   bash Benchmarks/make-layer.sh /var/tmp/decant-bench
#
# The layer is a slice of a Debian root: C headers, man pages (small files, many symlinks), the
# Python and Perl standard libraries, zoneinfo. Directories are added in that order until the tar
# holds at least MIN_BYTES (110 MB) and MIN_ENTRIES (22,000); a machine with fewer of those files
# falls back to /usr/share/doc, /usr/share/locale, GCC's binaries and the Swift toolchain.
# __pycache__ is left out so that running Python does not change the layer.
#
# Deterministic for the same input files: one LC_ALL=C sorted member list with every parent
# directory, a fixed mtime, owner and group 0, PAX headers without atime/ctime or pids.
# Does nothing but print the summary when the three outputs already exist.
set -euo pipefail
export LC_ALL=C

out=${1:?usage: make-layer.sh OUTDIR}
MIN_BYTES=${MIN_BYTES:-110000000}
MIN_ENTRIES=${MIN_ENTRIES:-22000}
MTIME=@1704067200 # 2024-01-01T00:00:00Z

mkdir -p "$out"
out=$(cd "$out" && pwd)

summary() {
    # shellcheck disable=SC1091
    . "$out/layer.env"
    awk -v dir="$out" -v tar="$UNCOMPRESSED_BYTES" -v n="$ENTRIES" -v data="$FILE_BYTES" \
        -v gz="$GZIP_BYTES" -v zst="$ZSTD_BYTES" 'BEGIN {
        printf "layer: %s\n", dir
        printf "  layer.tar      %11d bytes (%6.1f MB)  %d entries, %.1f MB of file data\n", tar, tar / 1e6, n, data / 1e6
        printf "  layer.tar.gz   %11d bytes (%6.1f MB)  ratio %.2f\n", gz, gz / 1e6, tar / gz
        printf "  layer.tar.zst  %11d bytes (%6.1f MB)  ratio %.2f\n", zst, zst / 1e6, tar / zst
    }'
}

if [ -s "$out/layer.tar" ] && [ -s "$out/layer.tar.gz" ] && [ -s "$out/layer.tar.zst" ] && [ -s "$out/layer.env" ]; then
    summary
    exit 0
fi

for tool in tar zstd; do
    command -v "$tool" >/dev/null || { echo "make-layer.sh: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

primary=(usr/include usr/share/man usr/lib/python3.11 usr/share/perl usr/share/zoneinfo)
fallback=(usr/share/doc usr/share/locale usr/lib/gcc opt/swift/usr/lib/swift)

work=$(mktemp -d "$out/.make-layer.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Members of one top directory, NUL-separated, relative to /.
members() { (cd / && find "$1" -path '*/__pycache__' -prune -o -print0); }
# Apparent size of regular files under one top directory.
file_bytes() { (cd / && find "$1" -path '*/__pycache__' -prune -o -type f -printf '%s\n') | awk '{s += $1} END {print s + 0}'; }

chosen=()
bytes=0
entries=0
for dir in "${primary[@]}" "${fallback[@]}"; do
    is_fallback=0
    for f in "${fallback[@]}"; do [ "$f" = "$dir" ] && is_fallback=1; done
    if [ $is_fallback = 1 ] && [ "$bytes" -ge "$MIN_BYTES" ] && [ "$entries" -ge "$MIN_ENTRIES" ]; then
        break
    fi
    [ -d "/$dir" ] || continue
    chosen+=("$dir")
    bytes=$((bytes + $(file_bytes "$dir")))
    entries=$((entries + $(members "$dir" | tr -cd '\0' | wc -c)))
done
echo "make-layer.sh: from ${chosen[*]}" >&2

# Every member plus every parent directory (usr, usr/share, ...), once, sorted.
{
    for dir in "${chosen[@]}"; do
        members "$dir"
        parent=$(dirname "$dir")
        while [ "$parent" != . ]; do printf '%s\0' "$parent"; parent=$(dirname "$parent"); done
    done
} | sort -z -u >"$work/list"

tar --create --file="$work/layer.tar" --directory=/ \
    --no-recursion --null --verbatim-files-from --files-from="$work/list" \
    --format=posix --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
    --mtime="$MTIME" --owner=0 --group=0 --numeric-owner --no-acls --no-xattrs --no-selinux

count=$(tr -cd '\0' <"$work/list" | wc -c)
data=$(cd / && xargs -0 stat -c '%F %s' <"$work/list" | awk '/^regular/ {s += $NF} END {print s + 0}')
size=$(stat -c %s "$work/layer.tar")
if [ "$size" -lt "$MIN_BYTES" ] || [ "$count" -lt "$MIN_ENTRIES" ]; then
    echo "make-layer.sh: only $size bytes and $count entries on this machine (need $MIN_BYTES and $MIN_ENTRIES)" >&2
    exit 1
fi

if command -v pigz >/dev/null; then
    pigz -6 -n -c <"$work/layer.tar" >"$work/layer.tar.gz"
else
    gzip -6 -n -c <"$work/layer.tar" >"$work/layer.tar.gz"
fi
zstd -3 -T0 -q -c <"$work/layer.tar" >"$work/layer.tar.zst"

cat >"$work/layer.env" <<EOF
UNCOMPRESSED_BYTES=$size
ENTRIES=$count
FILE_BYTES=$data
GZIP_BYTES=$(stat -c %s "$work/layer.tar.gz")
ZSTD_BYTES=$(stat -c %s "$work/layer.tar.zst")
SOURCES="${chosen[*]}"
EOF

for f in layer.tar layer.tar.gz layer.tar.zst layer.env; do mv -f "$work/$f" "$out/$f"; done
summary
