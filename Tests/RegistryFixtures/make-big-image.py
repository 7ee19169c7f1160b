#!/usr/bin/env python3
"""An OCI layout with one gzip layer holding one file of SIZE_MB incompressible bytes (tagged
latest), for tests that need a blob bigger than the fixture corpus has (a transfer killed or cut
after the first megabytes).

    python3 Tests/RegistryFixtures/make-big-image.py OUT_LAYOUT SIZE_MB
"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile


def blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
    with open(f"{layout}/blobs/sha256/{digest}", "wb") as f:
        f.write(data)
    return f"sha256:{digest}"


def main(layout, size_mb):
    payload = random.Random(1).randbytes(size_mb << 20)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("data/big.bin")
        info.size, info.mode, info.mtime = len(payload), 0o644, 1700000000
        tar.addfile(info, io.BytesIO(payload))
    uncompressed = tar_bytes.getvalue()
    compressed = gzip.compress(uncompressed, compresslevel=1, mtime=0)
    layer = blob(layout, compressed)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(uncompressed).hexdigest()]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(layout, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": len(compressed)}],
    }, sort_keys=True).encode()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(layout, manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    with open(f"{layout}/index.json", "w") as f:
        json.dump(index, f)
    with open(f"{layout}/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(json.dumps({"layer": layer, "size": len(compressed), "sha256_of_file": hashlib.sha256(payload).hexdigest()}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]))
