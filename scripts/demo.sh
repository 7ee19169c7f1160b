#!/usr/bin/env bash
# Decant's main job on a sample image, on a fresh machine: installs what it needs, builds Decant,
# makes a three-layer OCI image from files on this machine (thousands of files, a whiteout, an
# opaque directory, gzip and zstd layers), pulls it with `decant pull` (every layer extracted in
# parallel, committed in chain order) into a fresh store, then mounts it to show the merged tree;
# finally pushes it to a local docker-registry (skopeo) and pulls it from there with a --trace.
# Run as root.
#   bash scripts/demo.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/var/tmp/decant-demo}

bash scripts/setup.sh
swift build -c release --product decant >/dev/null
decant=$(swift build -c release --show-bin-path)/decant

"$decant" --help >/dev/null
umount "$work/rootfs" 2>/dev/null || true
rm -rf "$work"
mkdir -p "$work/rootfs"
python3 scripts/make-sample-image.py "$work"
export DECANT_ROOT="$work/store"

echo "== decant pull"
"$decant" pull "oci:$work/image:latest"
echo
echo "== a second pull reuses every layer"
"$decant" pull "oci:$work/image:latest" | tail -2
echo
"$decant" images ls
echo
"$decant" snapshots tree
echo
echo "== the image mounted (overlay of the three snapshots)"
"$decant" mount "oci:$work/image:latest" "$work/rootfs"
trap '"$decant" unmount "$work/rootfs" >/dev/null 2>&1 || true' EXIT
echo "usr/include/linux present: $([ -e "$work/rootfs/usr/include/linux" ] && echo yes || echo no) (whited out by layer 2)"
echo "usr/share/doc holds: $(ls "$work/rootfs/usr/share/doc") (made opaque by layer 2)"
echo "files in the image: $(find "$work/rootfs" -type f | wc -l)"

echo
echo "== from a registry: docker-registry on 127.0.0.1, the image pushed with skopeo, pulled into a new store"
registry=$(python3 Tests/RegistryFixtures/registry.py start --dir "$work/registry" --mode plain)
trap '"$decant" unmount "$work/rootfs" >/dev/null 2>&1 || true; python3 Tests/RegistryFixtures/registry.py stop --dir "$work/registry" >/dev/null' EXIT
host=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["host"])' "$registry")
python3 Tests/RegistryFixtures/registry.py push --registry-host "$host" --src "oci:$work/image:latest" --dest demo/sample:1.0 >/dev/null 2>&1
DECANT_ROOT="$work/store-registry" "$decant" pull --trace "$work/trace.json" "$host/demo/sample:1.0" 2>&1 | tail -2
python3 perf/trace-svg.py "$work/trace.json" "$work/trace.svg"
echo "timeline: $work/trace.json, drawn in $work/trace.svg"
