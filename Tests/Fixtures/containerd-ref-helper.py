#!/usr/bin/env python3
"""containerd-ref-helper.py — helpers for containerd-reference.sh (Python 3 stdlib only).

Usage:
  containerd-ref-helper.py list CASESDIR
      one line per case: NAME ok|error
  containerd-ref-helper.py archive CASESDIR NAME OUT.tar
      writes an OCI image archive (oci-layout, index.json, blobs/sha256/*) of the layers
      [base, case] (or [case] when base is null) and prints: IMAGE-NAME CHAINID...
      (one chainID per layer, bottom first)
  containerd-ref-helper.py snapdir SNAPSHOTTER-ROOT NAMESPACE CHAINID
      prints the directory of the committed snapshot CHAINID, read from the snapshotter's own
      bolt database SNAPSHOTTER-ROOT/metadata.db (containerd stores backend snapshots under the
      key "NAMESPACE/<n>/CHAINID" with an "id" value; the directory is
      SNAPSHOTTER-ROOT/snapshots/<id>, plus "/fs" when SNAPSHOTTER-ROOT's name contains
      "overlayfs").

The bolt reader below is a minimal read-only parser of the bbolt file format (meta page, branch
and leaf pages, inline buckets), enough to walk v1/snapshots/<key>/id.
"""

import hashlib
import io
import json
import os
import platform
import struct
import sys
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
        "s390x": "s390x", "riscv64": "riscv64"}.get(platform.machine(), platform.machine())


def load_cases(casesdir):
    with open(os.path.join(casesdir, "cases.json")) as f:
        return json.load(f)["cases"]


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def chain_ids(diff_ids):
    out = []
    for d in diff_ids:
        out.append(d if not out else digest((out[-1] + " " + d).encode()))
    return out


def cmd_list(casesdir):
    for c in load_cases(casesdir):
        print(c["name"], "ok" if c["expect"] == "ok" else "error")


def cmd_archive(casesdir, name, out):
    case = next(c for c in load_cases(casesdir) if c["name"] == name)
    layers = []  # (bytes, mediaType, diffID)
    if case.get("base"):
        with open(os.path.join(casesdir, case["base"]), "rb") as f:
            layers.append((f.read(), case["baseMediaType"], case["baseDiffID"]))
    with open(os.path.join(casesdir, case["blob"]), "rb") as f:
        layers.append((f.read(), case["mediaType"], case["diffID"]))

    blobs = {}

    def add(b):
        d = digest(b)
        blobs[d] = b
        return d

    config = {
        "architecture": ARCH,
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [l[2] for l in layers]},
        "history": [{"created_by": "decant fixture " + name}],
    }
    cb = json.dumps(config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": add(cb),
                   "size": len(cb)},
        "layers": [{"mediaType": mt, "digest": add(b), "size": len(b)} for b, mt, _ in layers],
    }
    mb = json.dumps(manifest, sort_keys=True).encode()
    image = "docker.io/decant-ref/%s:latest" % name
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": add(mb),
            "size": len(mb),
            "platform": {"architecture": ARCH, "os": "linux"},
            "annotations": {"io.containerd.image.name": image,
                            "org.opencontainers.image.ref.name": "latest"},
        }],
    }
    files = [("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
             ("index.json", json.dumps(index, sort_keys=True).encode())]
    files += [("blobs/sha256/" + d.split(":")[1], b) for d, b in sorted(blobs.items())]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for dname in ("blobs/", "blobs/sha256/"):
            ti = tarfile.TarInfo(dname)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            tf.addfile(ti)
        for fname, b in files:
            ti = tarfile.TarInfo(fname)
            ti.size = len(b)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(b))
    print(image, *chain_ids([l[2] for l in layers]))


# ---------------------------------------------------------------------------------------------
# minimal bbolt reader
# ---------------------------------------------------------------------------------------------

class Bolt:
    MAGIC = 0xED0CDAED

    def __init__(self, path):
        with open(path, "rb") as f:
            self.d = f.read()
        best = None
        ps0 = struct.unpack_from("<I", self.d, 24)[0]
        for off in (0, ps0):
            magic, _ver, ps, _fl, root, _seq, _free, _pgid, txid = struct.unpack_from(
                "<IIIIQQQQQ", self.d, off + 16)
            if magic != self.MAGIC:
                continue
            if best is None or txid > best[2]:
                best = (ps, root, txid)
        if best is None:
            raise ValueError("%s: not a bolt database" % path)
        self.ps, self.root, _ = best

    def _page(self, buf, off):
        flags, count = struct.unpack_from("<HH", buf, off + 8)
        base = off + 16
        if flags & 0x02:  # leaf
            for i in range(count):
                eo = base + i * 16
                fl, pos, ks, vs = struct.unpack_from("<IIII", buf, eo)
                k = buf[eo + pos:eo + pos + ks]
                v = buf[eo + pos + ks:eo + pos + ks + vs]
                yield k, v, fl
        elif flags & 0x01:  # branch
            for i in range(count):
                eo = base + i * 16
                _pos, _ks, pgid = struct.unpack_from("<IIQ", buf, eo)
                yield from self._page(self.d, pgid * self.ps)
        else:
            raise ValueError("unexpected bolt page flags %#x" % flags)

    def items(self, bucket_value=None):
        """(key, value, is_bucket) of the root bucket, or of a bucket given its value."""
        if bucket_value is None:
            it = self._page(self.d, self.root * self.ps)
        else:
            root = struct.unpack_from("<Q", bucket_value, 0)[0]
            it = self._page(bucket_value, 16) if root == 0 else self._page(self.d, root * self.ps)
        for k, v, fl in it:
            yield k, v, bool(fl & 1)

    def bucket(self, parent, name):
        for k, v, is_bucket in self.items(parent):
            if k == name and is_bucket:
                return v
        return None


def uvarint(b):
    x = s = 0
    for c in b:
        x |= (c & 0x7F) << s
        if c < 0x80:
            return x
        s += 7
    raise ValueError("bad uvarint")


def cmd_snapdir(sroot, namespace, chain):
    db = Bolt(os.path.join(sroot, "metadata.db"))
    v1 = db.bucket(None, b"v1")
    snaps = db.bucket(v1, b"snapshots") if v1 is not None else None
    if snaps is None:
        sys.stderr.write("no v1/snapshots bucket in %s/metadata.db\n" % sroot)
        return 1
    found = []
    for k, v, is_bucket in db.items(snaps):
        key = k.decode()
        if not is_bucket or not key.startswith(namespace + "/") or not key.endswith("/" + chain):
            continue
        sid = None
        for kk, vv, _ in db.items(v):
            if kk == b"id":
                sid = uvarint(vv)
        found.append((key, sid))
    if len(found) != 1 or found[0][1] is None:
        sys.stderr.write("snapshot %s in namespace %s: found %r\n" % (chain, namespace, found))
        return 1
    d = os.path.join(sroot, "snapshots", str(found[0][1]))
    if "overlayfs" in os.path.basename(os.path.normpath(sroot)):
        d = os.path.join(d, "fs")  # overlayfs: <id>/fs is the upper dir; native: <id> itself
    print(d)
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "list":
        cmd_list(argv[1])
        return 0
    if len(argv) == 4 and argv[0] == "archive":
        cmd_archive(*argv[1:])
        return 0
    if len(argv) == 4 and argv[0] == "snapdir":
        return cmd_snapdir(*argv[1:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
