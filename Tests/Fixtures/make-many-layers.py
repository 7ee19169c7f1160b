#!/usr/bin/python3
"""An OCI image layout of many small gzip layers, for mounting an image with a long lowerdir.

    /usr/bin/python3 Tests/Fixtures/make-many-layers.py OUTDIR LAYERS

Layer i (bottom first) holds one file, layers/l<i> (three digits), whose content is
"layer <i>\\n"; tag "latest". Deterministic: fixed mtimes, gzip without a timestamp.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MTIME = 1700000000


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest

    layers, diff_ids = [], []
    for i in range(count):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            data = ("layer %d\n" % i).encode()
            info = tarfile.TarInfo("layers/l%03d" % i)
            info.size, info.mtime = len(data), MTIME
            tar.addfile(info, io.BytesIO(data))
        tar_bytes = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
        blob = gzip.compress(tar_bytes, mtime=0)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(blob), "size": len(blob)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)},
        "layers": layers}).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


if __name__ == "__main__":
    main()
