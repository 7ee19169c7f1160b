"""A small raw tar and OCI-layout builder for the hostile-input cases (cases.py).

Raw headers (not tarfile) so that sizes, names, checksums can be anything.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess

BLOCK = 512
MTIME = 1700000000


def _octal(value, width):
    s = b"%0*o" % (width - 1, value)
    return s + b"\0"


def _field(raw, width):
    raw = raw[:width]
    return raw + b"\0" * (width - len(raw))


def header(name, size=0, typ=b"0", link=b"", mode=0o644, uid=0, gid=0, mtime=MTIME,
           devmajor=0, devminor=0, size_raw=None, prefix=b"", bad_checksum=False,
           magic=b"ustar\x00", version=b"00"):
    if isinstance(name, str):
        name = name.encode()
    if isinstance(link, str):
        link = link.encode()
    if isinstance(prefix, str):
        prefix = prefix.encode()
    h = bytearray()
    h += _field(name, 100)
    h += _octal(mode, 8)
    h += _octal(uid, 8)
    h += _octal(gid, 8)
    h += size_raw if size_raw is not None else _octal(size, 12)
    h += _octal(mtime, 12)
    h += b" " * 8  # checksum placeholder
    h += typ
    h += _field(link, 100)
    h += magic + version
    h += _field(b"root", 32)
    h += _field(b"root", 32)
    h += _octal(devmajor, 8)
    h += _octal(devminor, 8)
    h += _field(prefix, 155)
    h += b"\0" * 12
    assert len(h) == BLOCK, len(h)
    chk = sum(h)
    if bad_checksum:
        chk += 1
    h[148:156] = b"%06o\0 " % chk
    return bytes(h)


def pad(data):
    r = len(data) % BLOCK
    return data + (b"\0" * (BLOCK - r) if r else b"")


def file(name, data=b"", mode=0o644, **kw):
    if isinstance(data, str):
        data = data.encode()
    return header(name, size=len(data), typ=b"0", mode=mode, **kw) + pad(data)


def dir(name, mode=0o755, **kw):
    return header(name, typ=b"5", mode=mode, **kw)


def symlink(name, target, **kw):
    return header(name, typ=b"2", link=target, mode=0o777, **kw)


def hardlink(name, target, **kw):
    return header(name, typ=b"1", link=target, **kw)


def chardev(name, major, minor, mode=0o644):
    return header(name, typ=b"3", devmajor=major, devminor=minor, mode=mode)


def blockdev(name, major, minor, mode=0o644):
    return header(name, typ=b"4", devmajor=major, devminor=minor, mode=mode)


def fifo(name, mode=0o644):
    return header(name, typ=b"6", mode=mode)


def pax_record(key, value):
    if isinstance(key, str):
        key = key.encode()
    if isinstance(value, str):
        value = value.encode()
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n = len(str(n).encode()) + len(body)
    return str(n).encode() + body


def pax(records, name="././@PaxHeader", raw=None, typ=b"x"):
    """records: list of (key, value); raw: raw pax payload bytes instead."""
    payload = raw if raw is not None else b"".join(pax_record(k, v) for k, v in records)
    return header(name, size=len(payload), typ=typ) + pad(payload)


def gnu_longname(longname, typ=b"L"):
    if isinstance(longname, str):
        longname = longname.encode()
    payload = longname + b"\0"
    return header("././@LongLink", size=len(payload), typ=typ) + pad(payload)


def end():
    return b"\0" * (2 * BLOCK)


def tar(*entries, eof=True):
    data = b"".join(entries)
    return data + (end() if eof else b"")


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as f:
        f.write(data)
    return buf.getvalue()


def zst(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_ZST = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"


class Layer:
    """blob: bytes written to the layout; tar: the uncompressed tar (for the diff_id).

    desc_digest / desc_size / media_type / diff_id override what the manifest/config say.
    """

    def __init__(self, tar_bytes, compress="gzip", blob=None, media_type=None, desc_digest=None,
                 desc_size=None, diff_id=None, write_blob=True):
        self.tar = tar_bytes
        if blob is None:
            blob = {"gzip": gz, "zstd": zst, "none": lambda b: b}[compress](tar_bytes)
        self.blob = blob
        self.media_type = media_type or {"gzip": MT_GZ, "zstd": MT_ZST, "none": MT_TAR}[compress]
        self.desc_digest = desc_digest or sha(blob)
        self.desc_size = desc_size if desc_size is not None else len(blob)
        self.diff_id = diff_id or sha(tar_bytes)
        self.write_blob = write_blob


def write_layout(path, layers, extra_diff_ids=(), config_override=None, manifest_override=None):
    if os.path.exists(path):
        shutil.rmtree(path)
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data, digest=None):
        digest = digest or sha(data)
        with open(os.path.join(blobs, digest.split(":", 1)[1]), "wb") as f:
            f.write(data)
        return digest

    for l in layers:
        if l.write_blob:
            put(l.blob, l.desc_digest)
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [l.diff_id for l in layers] + list(extra_diff_ids)},
        "history": [],
    }
    if config_override:
        config = config_override(config)
    cfg = config if isinstance(config, bytes) else json.dumps(config, sort_keys=True).encode()
    cfg_d = put(cfg)
    manifest = {
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": cfg_d, "size": len(cfg)},
        "layers": [{"mediaType": l.media_type, "digest": l.desc_digest, "size": l.desc_size}
                   for l in layers],
    }
    if manifest_override:
        manifest = manifest_override(manifest)
    man = json.dumps(manifest, sort_keys=True).encode()
    man_d = put(man)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": MT_MANIFEST, "digest": man_d, "size": len(man),
                            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return man_d
