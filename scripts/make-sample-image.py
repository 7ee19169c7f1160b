#!/usr/bin/env python3
"""Builds a sample image from files already on this machine, as an OCI image layout.

    python3 scripts/make-sample-image.py OUTDIR

OUTDIR/layers/layer1.tar.gz   the bottom layer: /usr/include and /usr/share/doc (thousands of
                              files and symlinks), owned by root, deterministic order and times.
OUTDIR/layers/layer2.tar.zst  deletes usr/include/linux (a whiteout), replaces usr/share/doc
                              wholesale (an opaque directory), adds a few files.
OUTDIR/layers/layer3.tar.gz   /usr/lib/python3.11 (thousands more files), a file under a
                              directory that only the bottom layer has (an implicit parent).
OUTDIR/image/                 the OCI layout of the three, tagged "latest": pull it with
                              decant pull oci:OUTDIR/image:latest
"""
import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

MTIME = 1_700_000_000


def normalize(info):
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = MTIME
    return info


def add_tree(tar, source, arcname):
    for directory, dirs, files in os.walk(source):
        dirs.sort()
        rel = os.path.relpath(directory, source)
        tar.add(directory, arcname=os.path.normpath(os.path.join(arcname, rel)), recursive=False, filter=normalize)
        for name in sorted(files):
            path = os.path.join(directory, name)
            tar.add(path, arcname=os.path.normpath(os.path.join(arcname, rel, name)), recursive=False, filter=normalize)


def add_bytes(tar, name, data, mode=0o644):
    info = normalize(tarfile.TarInfo(name))
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def add_dir(tar, name):
    info = normalize(tarfile.TarInfo(name))
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def diff_id(path, decompress):
    digest = hashlib.sha256()
    with subprocess.Popen(decompress + [path], stdout=subprocess.PIPE) as p:
        for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return digest


def write_layout(layout, layers):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    descriptors, diff_ids = [], []
    for path, media_type, decompress in layers:
        digest = sha256(path)
        shutil.copyfile(path, os.path.join(layout, "blobs", "sha256", digest))
        descriptors.append({"mediaType": media_type, "digest": "sha256:" + digest, "size": os.path.getsize(path)})
        diff_ids.append("sha256:" + diff_id(path, decompress))
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "config": {"Env": ["PATH=/usr/bin"]}}, sort_keys=True).encode()
    config_digest = write_blob(layout, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + config_digest, "size": len(config)},
                           "layers": descriptors}, sort_keys=True).encode()
    manifest_digest = write_blob(layout, manifest)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + manifest_digest,
            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def main():
    root = sys.argv[1]
    out = os.path.join(root, "layers")
    os.makedirs(out, exist_ok=True)
    layer1 = os.path.join(out, "layer1.tar")
    with tarfile.open(layer1, "w", format=tarfile.PAX_FORMAT) as tar:
        add_tree(tar, "/usr/include", "usr/include")
        add_tree(tar, "/usr/share/doc", "usr/share/doc")
    subprocess.run(["gzip", "-6", "-f", "-n", layer1], check=True)

    layer2 = os.path.join(out, "layer2.tar")
    with tarfile.open(layer2, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in ["usr", "usr/include", "usr/share", "usr/share/doc"]:
            add_dir(tar, name)
        add_bytes(tar, "usr/include/.wh.linux", b"")
        add_bytes(tar, "usr/share/doc/.wh..wh..opq", b"")
        add_bytes(tar, "usr/share/doc/README", b"Documentation was replaced by the top layer.\n")
        add_dir(tar, "etc")
        add_bytes(tar, "etc/decant-sample", b"written by layer 2\n")
    subprocess.run(["zstd", "-q", "-f", "--rm", layer2, "-o", layer2 + ".zst"], check=True)

    layer3 = os.path.join(out, "layer3.tar")
    with tarfile.open(layer3, "w", format=tarfile.PAX_FORMAT) as tar:
        python = sorted(glob.glob("/usr/lib/python3.*"))[-1]
        add_tree(tar, python, python.lstrip("/"))
        add_bytes(tar, "usr/include/netinet/decant-added.h", b"/* under a directory only layer 1 has */\n")
    subprocess.run(["gzip", "-6", "-f", "-n", layer3], check=True)

    shutil.rmtree(os.path.join(root, "image"), ignore_errors=True)
    write_layout(os.path.join(root, "image"), [
        (layer1 + ".gz", "application/vnd.oci.image.layer.v1.tar+gzip", ["gzip", "-dc"]),
        (layer2 + ".zst", "application/vnd.oci.image.layer.v1.tar+zstd", ["zstd", "-dcq"]),
        (layer3 + ".gz", "application/vnd.oci.image.layer.v1.tar+gzip", ["gzip", "-dc"]),
    ])


if __name__ == "__main__":
    main()
