#!/usr/bin/env python3
"""Builds a small two-layer sample image from files already on this machine.

    python3 scripts/make-sample-layers.py OUTDIR

layer1.tar.gz  the bottom layer: /usr/include and /usr/share/doc (thousands of files, symlinks,
               hardlinks as found), owned by root, deterministic order and times.
layer2.tar.zst the layer above: deletes usr/include/linux (a whiteout), replaces usr/share/doc
               wholesale (an opaque directory), and adds a few files.
"""
import io
import os
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


def main():
    out = sys.argv[1]
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


if __name__ == "__main__":
    main()
