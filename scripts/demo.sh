#!/usr/bin/env bash
# Decant's main job on a sample image, on a fresh machine: installs what it needs, builds Decant,
# makes a two-layer sample image from files on this machine, applies each layer into its own
# overlay upper dir (the bottom one naively, the top one with overlay whiteouts), and mounts the
# result to show the merged tree. Run as root.
#   bash scripts/demo.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/var/tmp/decant-demo}

bash scripts/setup.sh
swift build -c release --product decant >/dev/null
decant=$(swift build -c release --show-bin-path)/decant

umount "$work/merged" 2>/dev/null || true
rm -rf "$work"
mkdir -p "$work"/{layers,1/fs,2/fs,2/work,merged}
python3 scripts/make-sample-layers.py "$work/layers"

echo "== layer 1 (bottom, gzip): naive whiteouts"
"$decant" apply-layer --naive --media-type application/vnd.oci.image.layer.v1.tar+gzip \
    "$work/layers/layer1.tar.gz" "$work/1/fs"
echo
echo "== layer 2 (zstd): overlay whiteouts, in its own upper dir"
"$decant" apply-layer --media-type application/vnd.oci.image.layer.v1.tar+zstd \
    "$work/layers/layer2.tar.zst" "$work/2/fs"
echo
echo "== what layer 2's upper dir holds"
ls -l "$work/2/fs/usr/include"
getfattr -n trusted.overlay.opaque "$work/2/fs/usr/share/doc" 2>/dev/null | grep opaque || true

echo
echo "== the merged image (overlay mount of both upper dirs)"
mount -t overlay overlay -o "lowerdir=$work/2/fs:$work/1/fs" "$work/merged"
trap 'umount "$work/merged" 2>/dev/null || true' EXIT
echo "usr/include/linux present: $([ -e "$work/merged/usr/include/linux" ] && echo yes || echo no)"
echo "usr/share/doc holds: $(ls "$work/merged/usr/share/doc")"
echo "usr/include holds $(find "$work/merged/usr/include" | wc -l) entries; etc/decant-sample: $(cat "$work/merged/etc/decant-sample")"
