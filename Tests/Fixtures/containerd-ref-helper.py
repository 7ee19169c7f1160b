#!/usr/bin/env python3
"""containerd-ref-helper.py — helpers for containerd-reference.sh (Python 3 stdlib only).

Usage:
  containerd-ref-helper.py prepare CASESDIR OUTDIR
      writes OUTDIR/NAME.tar for every case (an OCI image archive: oci-layout, index.json,
      blobs/sha256/* of the layers [base, case], or [case] when base is null; image name
      docker.io/decant-ref/NAME:latest) and OUTDIR/all-ok.tar holding every "ok" case's image;
      prints one line per case: NAME ok|error CHAINID... (bottom layer first)
  containerd-ref-helper.py dump-all CASESDIR SNAPSHOTTERS-ROOT NAMESPACE START_NS STATUSFILE
      STATUSFILE has lines "NAME overlayfs|native ok|accepted|rejected"; for every imported
      case writes CASESDIR/ref/NAME/{overlay-base,overlay,native}.json (treedump.py format) and
      CASESDIR/ref/NAME/unstable-mtime.json: per dump, the paths whose mtime is the time of
      extraction (between START_NS and now), so not reproducible. Fails if a snapshot is
      missing, or if an ok case's overlay unstable paths differ from its cases.json ignoreMtime.
  containerd-ref-helper.py snapdir SNAPSHOTTER-ROOT NAMESPACE CHAINID
      prints the directory of the committed snapshot CHAINID.

Snapshot directories come from the snapshotter's own bolt database SNAPSHOTTER-ROOT/metadata.db:
containerd's metadata layer names backend snapshots "NAMESPACE/<n>/CHAINID", and the backend
stores v1/snapshots/<that name>/id (uvarint); the directory is SNAPSHOTTER-ROOT/snapshots/<id>,
plus "/fs" for overlayfs. The bolt reader below is a minimal read-only parser of the bbolt file
format (meta pages, branch and leaf pages, inline buckets).
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


def image_archive(casesdir, cases, out):
    """One OCI archive holding one image per case."""
    blobs = {}

    def add(b):
        d = digest(b)
        blobs[d] = b
        return d

    index = {"schemaVersion": 2, "manifests": []}
    for case in cases:
        name = case["name"]
        layers = []  # (bytes, mediaType, diffID)
        if case.get("base"):
            with open(os.path.join(casesdir, case["base"]), "rb") as f:
                layers.append((f.read(), case["baseMediaType"], case["baseDiffID"]))
        with open(os.path.join(casesdir, case["blob"]), "rb") as f:
            layers.append((f.read(), case["mediaType"], case["diffID"]))
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
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": add(cb), "size": len(cb)},
            "layers": [{"mediaType": mt, "digest": add(b), "size": len(b)}
                       for b, mt, _ in layers],
        }
        mb = json.dumps(manifest, sort_keys=True).encode()
        index["manifests"].append({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": add(mb),
            "size": len(mb),
            "platform": {"architecture": ARCH, "os": "linux"},
            "annotations": {"io.containerd.image.name": "docker.io/decant-ref/%s:latest" % name,
                            "org.opencontainers.image.ref.name": name},
        })
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


def case_chains(case):
    diffs = ([case["baseDiffID"]] if case.get("base") else []) + [case["diffID"]]
    return chain_ids(diffs)


def cmd_prepare(casesdir, outdir):
    cases = load_cases(casesdir)
    os.makedirs(outdir, exist_ok=True)
    for c in cases:
        image_archive(casesdir, [c], os.path.join(outdir, c["name"] + ".tar"))
    image_archive(casesdir, [c for c in cases if c["expect"] == "ok"],
                  os.path.join(outdir, "all-ok.tar"))
    for c in cases:
        print(c["name"], "ok" if c["expect"] == "ok" else "error", *case_chains(c))


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


def snapshot_dir(sroot, namespace, chain):
    db = Bolt(os.path.join(sroot, "metadata.db"))
    v1 = db.bucket(None, b"v1")
    snaps = db.bucket(v1, b"snapshots") if v1 is not None else None
    if snaps is None:
        raise LookupError("no v1/snapshots bucket in %s/metadata.db" % sroot)
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
        raise LookupError("snapshot %s in namespace %s of %s: found %r"
                          % (chain, namespace, sroot, found))
    d = os.path.join(sroot, "snapshots", str(found[0][1]))
    if "overlayfs" in os.path.basename(os.path.normpath(sroot)):
        d = os.path.join(d, "fs")  # overlayfs: <id>/fs is the upper dir; native: <id> itself
    return d


def cmd_snapdir(sroot, namespace, chain):
    print(snapshot_dir(sroot, namespace, chain))
    return 0


def load_treedump():
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("treedump", os.path.join(here, "treedump.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cmd_dump_all(casesdir, roots, namespace, start_ns, statusfile):
    import time
    treedump = load_treedump()
    start_ns = int(start_ns)
    status = {}
    with open(statusfile) as f:
        for line in f:
            if line.strip():
                name, snap, st = line.split()
                status[(name, snap)] = st
    failures = 0
    for case in load_cases(casesdir):
        name = case["name"]
        chains = case_chains(case)
        out = os.path.join(casesdir, "ref", name)
        os.makedirs(out, exist_ok=True)
        jobs = []
        if status.get((name, "overlayfs")) in ("ok", "accepted"):
            jobs.append(("overlay", "overlayfs", chains[-1]))
            if len(chains) > 1:
                jobs.append(("overlay-base", "overlayfs", chains[0]))
        if status.get((name, "native")) in ("ok", "accepted"):
            jobs.append(("native", "native", chains[-1]))
        unstable = {}
        for key, snap, chain in jobs:
            try:
                d = snapshot_dir(os.path.join(roots, "io.containerd.snapshotter.v1." + snap),
                                 namespace, chain)
            except LookupError as e:
                print("FAIL %s: %s" % (name, e))
                failures += 1
                continue
            tree = treedump.dump(d)
            with open(os.path.join(out, key + ".json"), "w") as f:
                f.write(json.dumps(tree, sort_keys=True, indent=1) + "\n")
            now = time.time_ns() + 60 * 10**9
            unstable[key] = sorted(p for p, e in tree.items()
                                   if start_ns <= e.get("mtime_ns", -1) <= now)
        if unstable:
            with open(os.path.join(out, "unstable-mtime.json"), "w") as f:
                f.write(json.dumps(unstable, sort_keys=True, indent=1) + "\n")
        if case["expect"] == "ok" and "overlay" in unstable:
            want = sorted(case.get("ignoreMtime", []))
            if unstable["overlay"] != want:
                print("FAIL %s: overlay paths with extraction-time mtimes %r != cases.json "
                      "ignoreMtime %r" % (name, unstable["overlay"], want))
                failures += 1
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[0] == "prepare":
        cmd_prepare(*argv[1:])
        return 0
    if len(argv) == 6 and argv[0] == "dump-all":
        return cmd_dump_all(*argv[1:])
    if len(argv) == 4 and argv[0] == "snapdir":
        return cmd_snapdir(*argv[1:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
