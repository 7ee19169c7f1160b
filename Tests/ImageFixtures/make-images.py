#!/usr/bin/env python3
"""make-images.py — generate the multi-layer image corpus (pull, unpack, sources, bad input).

Usage:  python3 Tests/ImageFixtures/make-images.py OUTDIR

Python 3 standard library plus the `zstd` command-line tool. Layer tars are built with the Tar
helper of Tests/Fixtures/make-layers.py (imported, not copied). Output is deterministic: fixed
mtimes and contents, gzip headers with mtime 0, sorted JSON, tar archives with fixed metadata
(zstd bytes can differ between zstd versions; every diffID and chainID is stable).

For every image NAME writes
  OUTDIR/NAME/            OCI image layout: oci-layout, index.json (one descriptor annotated
                          org.opencontainers.image.ref.name = "latest"), blobs/sha256/<hex>
  OUTDIR/NAME.oci.tar     the same layout as a tar (an OCI archive, for `ctr images import`)
  OUTDIR/NAME.docker.tar  for some images: a `docker save` archive (manifest.json with
                          Config/RepoTags/Layers, repositories, <config hex>.json,
                          <layer id>/{VERSION,json,layer.tar} with UNCOMPRESSED layer tars)
and OUTDIR/images.json:
  {"images": [{"name", "layout", "ociArchive", "dockerArchive" (or null), "dockerRepoTag",
               "indexDigest" (platforms only: the image index blob), "manifestDigest",
               "manifestMediaType", "configDigest", "platform",
               "layers": [{"digest", "mediaType", "diffID", "size", "unstableMtime",
                           + for bad images "actualDigest" / "actualSize" / "actualDiffID" /
                           "missing" where the descriptor or config lies}],
               "chainIDs", "expect", "description",
               "platforms" (platforms only: every platform with its manifest, config, layers,
                            chainIDs)}]}
  layers[i].diffID is what the config says (rootfs.diff_ids[i]); chainIDs are computed from
  those: chainID(0) = diffID(0), chainID(i) = sha256(chainID(i-1) + " " + diffID(i)).
  layers[i].unstableMtime: directories of that layer's overlay upper dir (as containerd writes
  it) whose mtime is the time of extraction — every ancestor directory of an entry that has no
  header of its own in the layer. containerd's WithParents copies the lower layer's times onto
  such a directory, but creating the child right after bumps its mtime again.

Images (containerd = what containerd 1.6.20's `ctr images import` does with NAME.oci.tar):

  | name             | expect              | what                                  | containerd    |
  | ---------------- | ------------------- | ------------------------------------- | ------------- |
  | multi            | ok                  | 5 layers gzip/zstd/tar/gzip/zstd:     | ok            |
  |                  |                     | 3000-file base, whiteouts, opaque     |               |
  |                  |                     | dirs, WithParents fix-ups, hardlinks, |               |
  |                  |                     | type changes, setuid, setgid dirs,    |               |
  |                  |                     | devices, fifos                        |               |
  | shared-a         | ok                  | 3 layers, the first two = shared-b's  | ok            |
  | shared-b         | ok                  | 4 layers, the first two = shared-a's  | ok (2 reused) |
  | platforms        | ok                  | index.json -> image index: amd64,     | ok (amd64)    |
  |                  |                     | arm64/v8, arm/v7; pick linux/amd64    |               |
  | bad-layer-digest | error "digest"      | one bit of the layer blob flipped     | "content      |
  |                  |                     | (same name, same size)                | digest ...:   |
  |                  |                     |                                       | not found"    |
  | bad-layer-size   | error "size"        | descriptor size 1000 bytes too large  | ACCEPTED      |
  | bad-diffid       | error "diff_id"     | config diff_id != sha256 of the tar   | "wrong diff   |
  |                  |                     |                                       | id calculated |
  |                  |                     |                                       | on extraction"|
  | corrupt-layer    | error "corrupt"     | reserved deflate block type halfway   | "unpigz: ...  |
  |                  |                     | (digest/size match the bytes)         | corrupted"    |
  | truncated-layer  | error "truncated"   | gzip cut at 60% (digest/size match)   | "incomplete   |
  |                  |                     |                                       | deflate data" |
  | schema1          | error "schema 1"    | Docker schema 1 signed manifest       | "unexpected   |
  |                  |                     | (manifest.v1+prettyjws)               | media type"   |
  | missing-blob     | error "not found"   | a layer blob absent from blobs/ (the  | "content      |
  |                  |                     | layout and the archive)               | digest ...:   |
  |                  |                     |                                       | not found"    |

Error substrings are for Decant's messages (lowercase, case-sensitive match). Docker archives:
multi, shared-a, shared-b (RepoTags decant-fixtures/NAME:latest).

Two things multi deliberately avoids, because containerd 1.6 fails on them although they are
valid layers: an implicit parent two levels below a directory whited out in a lower layer
(overlay: "lstat <lower>/srv/gone/sub: not a directory" — mkparent's search of the lower layers
treats ENOTDIR as an error), and an implicit parent over a lower FILE (native snapshotter:
"mkparent <root>/srv/replaced: not a directory"; overlay accepts it).
"""

import hashlib
import importlib.util
import io
import json
import os
import shutil
import struct
import sys
import tarfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing the Fixtures scripts must not write into Fixtures/


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(HERE), "Fixtures", filename))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ml = _load("make_layers", "make-layers.py")
Tar, xattr_entry, gz, zstd, sha256 = ml.Tar, ml.xattr_entry, ml.gz, ml.zstd, ml.sha256
PAX, GNU, USTAR = ml.PAX, ml.GNU, ml.USTAR
DIR, SYM, CHR, BLK, FIFO = ml.DIR, ml.SYM, ml.CHR, ml.BLK, ml.FIFO

GZ, ZST, TAR = ml.GZ, ml.ZST, ml.TAR
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"

TB = 1600000000  # base layers' entries
T = 1700000000   # upper layers: T + 1000 * layer + offset
CREATED = "2023-11-14T22:13:20Z"
ARCHIVE_MTIME = 1700000000

COMPRESS = {GZ: gz, ZST: zstd, TAR: lambda b: b}


def chain_ids(diff_ids):
    out = []
    for d in diff_ids:
        out.append(d if not out else sha256((out[-1] + " " + d).encode()))
    return out


def jbytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def clean(name):
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def unstable_dirs(tar_bytes):
    """Ancestor directories of the layer's entries that have no directory header in the layer:
    containerd creates them implicitly (mkparent) and their mtime is the extraction time."""
    explicit, ancestors = set(), set()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
        for m in tf:
            name = clean(m.name)
            if not name:
                continue
            if m.isdir():
                explicit.add(name)
            parts = name.split("/")
            for i in range(1, len(parts)):
                ancestors.add("/".join(parts[:i]))
    return sorted(ancestors - explicit)


class Layer:
    def __init__(self, tar, media, comment):
        self.tar, self.media, self.comment = tar, media, comment
        self.blob = COMPRESS[media](tar)
        self.diff_id = sha256(tar)
        self.digest = sha256(self.blob)


# --------------------------------------------------------------------------------------------
# multi
# --------------------------------------------------------------------------------------------

GEN_DIRS, GEN_FILES = 100, 30
WORDS = (b"alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         b"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu ")


def gen_content(d, f):
    """A few KB of text, different for every file, compressible."""
    n = 700 + ((d * 31 + f * 17) % 37) * 90  # 700 .. 3940 bytes
    head = b"usr/share/gen/d%03d/f%03d\n" % (d, f)
    out = bytearray(head)
    i = 0
    while len(out) < n:
        out += b"%04d %d.%d " % (i, d, f) + WORDS[(i * 7 + d + f) % 60:] + b"\n"
        i += 1
    return bytes(out[:n])


def multi_layer0():
    """Bottom layer: 3000 generated files plus the directories later layers build on."""
    t = Tar(PAX)
    t.dir("bin/", mtime=TB)
    t.file("bin/sh", "#!/bin/false\n", mode=0o755, mtime=TB + 1)
    t.dir("etc/", mtime=TB + 2)
    t.file("etc/motd", "whited out in layer 1, re-added in layer 3\n", mtime=TB + 3)
    t.file("etc/hostname", "decant\n", mtime=TB + 4)
    t.dir("usr/", mtime=TB + 5)
    t.dir("usr/share/", mtime=TB + 6)
    xattr_entry(t, "usr/share/gen/", DIR, xattrs=[("user.gen", "base")], mode=0o775, gid=50,
                mtime=TB + 7)
    for d in range(GEN_DIRS):
        t.dir("usr/share/gen/d%03d/" % d, mode=0o755, mtime=TB + 100 + d)
        for f in range(GEN_FILES):
            t.file("usr/share/gen/d%03d/f%03d" % (d, f), gen_content(d, f),
                   mode=0o755 if f % 10 == 9 else 0o644, uid=(d % 3) * 1000,
                   gid=(d % 3) * 1000, mtime=TB + 1000 + d * GEN_FILES + f)
    t.hardlink("usr/share/gen/d000/f000-hardlink", "usr/share/gen/d000/f000", mtime=TB + 1000)
    # WithParents targets: directories with non-default owner, mode, mtime and user.* xattrs
    xattr_entry(t, "srv/", DIR, xattrs=[("user.srv", "base")], mode=0o751, uid=11, gid=12,
                mtime=TB + 10)
    xattr_entry(t, "srv/owned/", DIR, xattrs=[("user.fixup", "base"), ("user.extra", "x")],
                mode=0o750, uid=1001, gid=1002, mtime=TB + 11)
    xattr_entry(t, "srv/owned/deep/", DIR, xattrs=[("user.deep", "base")], mode=0o711,
                uid=1003, gid=1004, mtime=TB + 12)
    t.file("srv/owned/deep/base-file", "base\n", mtime=TB + 13)
    t.dir("srv/replaced/", mode=0o700, uid=5, gid=5, mtime=TB + 14)
    t.file("srv/replaced/old", "hidden once srv/replaced is a file\n", mtime=TB + 15)
    xattr_entry(t, "srv/hidden/", DIR, xattrs=[("user.hidden", "base")], mode=0o755, uid=21,
                gid=22, mtime=TB + 16)
    xattr_entry(t, "srv/hidden/sub/", DIR, xattrs=[("user.sub", "base, under an opaque dir")],
                mode=0o705, uid=23, gid=24, mtime=TB + 17)
    t.file("srv/hidden/sub/old", "hidden by the opaque srv/hidden of layer 1\n", mtime=TB + 18)
    xattr_entry(t, "srv/gone/", DIR, xattrs=[("user.gone", "base")], mode=0o700, uid=25,
                gid=26, mtime=TB + 19)
    t.file("srv/gone/old", "whited out with srv/gone in layer 1\n", mtime=TB + 19)
    # type changes across layers
    xattr_entry(t, "tc/", DIR, xattrs=[("user.tc", "base")], mode=0o751, uid=7, gid=8,
                mtime=TB + 20)
    t.file("tc/f2d", "a file, a directory from layer 2\n", mtime=TB + 21)
    t.dir("tc/d2s/", mode=0o755, mtime=TB + 22)
    t.file("tc/d2s/child", "a directory, a symlink from layer 3\n", mtime=TB + 23)
    t.symlink("tc/s2f", "f2d", mtime=TB + 24)
    # implicit parent in the bottom layer: 0755 root:root, extraction-time mtime
    t.file("opt/implicit/file", "opt and opt/implicit have no headers\n", mtime=TB + 30)
    t.add("dev-base/fifo", FIFO, mode=0o600, mtime=TB + 31)
    return t.end()


def multi_layer1():
    t = Tar(PAX)
    L = T + 1000
    # whiteouts of a file, a directory, a root-level file's sibling dir entry; implicit parents
    # usr, usr/share, usr/share/gen copy owner/mode/xattrs from layer 0
    t.file("usr/share/gen/d001/.wh.f000", uid=1000, gid=1000, mtime=L + 1)
    t.file("usr/share/gen/.wh.d002", mtime=L + 2)
    t.file("etc/.wh.motd", mtime=L + 3)
    # opaque directory over a lower directory, with new content
    t.dir("usr/share/gen/d003/", mode=0o750, mtime=L + 4)
    t.file("usr/share/gen/d003/.wh..wh..opq", mtime=L + 5)
    t.file("usr/share/gen/d003/only-after-opaque", "d003 is opaque from layer 1\n", mtime=L + 6)
    # srv/hidden becomes opaque (explicit header with its own metadata)
    xattr_entry(t, "srv/hidden/", DIR, xattrs=[("user.hidden", "layer1")], mode=0o770, uid=31,
                gid=32, mtime=L + 7)
    t.file("srv/hidden/.wh..wh..opq", mtime=L + 8)
    # dir -> file (srv/replaced); symlink -> file (tc/s2f); implicit srv and tc
    t.file("srv/replaced", "was a directory in layer 0\n", mode=0o640, mtime=L + 9)
    t.file("tc/s2f", "was a symlink in layer 0\n", mtime=L + 10)
    # a whiteout of a directory with non-default metadata (layer 2 re-creates it implicitly)
    t.file("srv/.wh.gone", uid=1000, gid=1000, mtime=L + 16)
    # a whiteout in an implicit directory whose lower counterpart is not root-owned
    t.file("srv/owned/deep/.wh.base-file", mtime=L + 11)
    # setuid/setgid files
    t.dir("sbin/", mtime=L + 12)
    t.file("sbin/su-like", "#!/bin/false setuid root\n", mode=0o4755, mtime=L + 13)
    t.file("sbin/sg-like", "#!/bin/false setgid 42\n", mode=0o2755, gid=42, mtime=L + 14)
    t.file("sbin/user-setuid", "#!/bin/false setuid 1000\n", mode=0o4750, uid=1000, gid=1000,
           mtime=L + 15)
    # a root:root file in a setgid directory: created there, it takes the directory's group first
    t.dir("sbin/staff/", mode=0o2775, gid=50, mtime=L + 17)
    t.file("sbin/staff/root-file", "root:root, not the directory's group\n", mtime=L + 18)
    return t.end()


def multi_layer2():
    t = Tar(USTAR)
    L = T + 2000
    # srv/owned gets new metadata (explicit header, no content change)
    xattr_entry(t, "srv/owned/", DIR, xattrs=[("user.fixup", "layer2")], mode=0o770,
                uid=2001, gid=2002, mtime=L + 1)
    # file -> dir with a header (without one the native snapshotter fails: "mkparent
    # .../srv/replaced: not a directory"; overlay would create it 0755 root:root)
    t.dir("srv/replaced/", mode=0o711, uid=9, gid=9, mtime=L + 2)
    t.file("srv/replaced/again", "srv/replaced is a directory again\n", mtime=L + 2)
    # implicit parent whose nearest lower is a whiteout (layer 1): the search stops there, so
    # it is 0755 root:root, not layer 0's 0700 25:26 (one level only: a deeper implicit path
    # under a whited-out lower dir makes containerd fail with "lstat ...: not a directory")
    t.file("srv/gone/new", "srv/gone is back, with default metadata\n", mtime=L + 17)
    # implicit parents: srv/hidden from layer 1 (the opaque dir; trusted.* not copied),
    # srv/hidden/sub from layer 0 (containerd looks past the opaque layer 1)
    t.file("srv/hidden/sub/new", "under an opaque lower\n", mtime=L + 3)
    # file -> dir
    t.dir("tc/f2d/", mode=0o700, mtime=L + 4)
    t.file("tc/f2d/child", "tc/f2d is a directory from layer 2\n", mtime=L + 5)
    # a directory whited out in layer 1, re-added (with headers)
    t.dir("usr/share/gen/d002/", mode=0o755, mtime=L + 6)
    t.file("usr/share/gen/d002/readded", "d002 was whited out in layer 1\n", mtime=L + 7)
    # hardlinks within the layer
    t.dir("hl/", mtime=L + 8)
    t.file("hl/orig", "one inode, three names\n", mode=0o644, uid=10, gid=11, mtime=L + 9)
    t.hardlink("hl/link1", "hl/orig", mode=0o644, uid=10, gid=11, mtime=L + 9)
    t.dir("hl/sub/", mtime=L + 10)
    t.hardlink("hl/sub/link2", "hl/orig", mode=0o644, uid=10, gid=11, mtime=L + 9)
    t.file("hl/setuid", "#!/bin/false\n", mode=0o4755, mtime=L + 11)
    t.hardlink("hl/setuid-link", "hl/setuid", mode=0o4755, mtime=L + 11)
    # devices and fifos
    t.dir("dev/", mtime=L + 12)
    t.add("dev/null", CHR, mode=0o666, devmajor=1, devminor=3, mtime=L + 13)
    t.add("dev/sda", BLK, mode=0o660, gid=6, devmajor=8, devminor=0, mtime=L + 14)
    t.add("dev/fifo", FIFO, mode=0o644, mtime=L + 15)
    t.add("dev/fifo-sticky", FIFO, mode=0o1600, uid=3, mtime=L + 16)
    return t.end()


def multi_layer3():
    t = Tar(PAX)
    L = T + 3000
    # dir -> symlink
    t.symlink("tc/d2s", "../etc", mtime=L + 1)
    # implicit srv (layer 2's implicit copy), srv/owned (layer 2's explicit metadata),
    # srv/owned/deep (layer 1's implicit copy), srv/owned/new3 (no counterpart: default)
    t.file("srv/owned/new3/file", "new in layer 3\n", mtime=L + 2)
    t.file("srv/owned/deep/x", "deep\n", mtime=L + 3)
    # whiteout of one name of a hardlinked inode from layer 2
    t.file("hl/.wh.link1", mtime=L + 4)
    # a file re-added after its whiteout in layer 1
    t.file("etc/motd", "re-added in layer 3\n", mode=0o600, mtime=L + 5)
    # opaque directory in a new layer over a lower directory with 30 files
    t.dir("usr/share/gen/d005/", mode=0o755, uid=5, gid=5, mtime=L + 6)
    t.file("usr/share/gen/d005/.wh..wh..opq", mtime=L + 7)
    t.file("usr/share/gen/d005/f000", "replaced by an opaque d005\n", mtime=L + 8)
    # whiteouts of a lower fifo and of a whole lower directory tree
    t.file("dev-base/.wh.fifo", mtime=L + 9)
    t.file(".wh.opt", mtime=L + 10)
    return t.end()


def multi_layer4():
    t = Tar(GNU)
    L = T + 4000
    # modify a lower file, chmod a setuid file, whiteout the opaque dir of layer 1
    t.file("usr/share/gen/d006/f001", "modified in layer 4\n", mode=0o644, mtime=L + 1)
    t.file("sbin/su-like", "#!/bin/false no longer setuid\n", mode=0o755, mtime=L + 2)
    t.file("srv/.wh.hidden", mtime=L + 3)
    # symlink -> file -> symlink again, and a dir replaced by a file
    t.symlink("tc/s2f", "d2s", mtime=L + 4)
    t.file("usr/share/gen/d010", "d010 was a directory of 30 files\n", mtime=L + 5)
    # the directory re-added in layer 2 is whited out again
    t.file("usr/share/gen/.wh.d002", mtime=L + 6)
    # a new tree next to the whited-out one
    t.dir("opt/", mode=0o700, mtime=L + 7)
    t.file("opt/new", "opt is back, as 0700\n", mtime=L + 8)
    return t.end()


def image_multi():
    layers = [
        Layer(multi_layer0(), GZ, "3000 generated files in 100 dirs; WithParents targets"),
        Layer(multi_layer1(), ZST, "whiteouts, opaque dirs, dir->file, symlink->file, setuid"),
        Layer(multi_layer2(), TAR, "WithParents fix-ups, file->dir, re-added dir, hardlinks, "
                                   "devices"),
        Layer(multi_layer3(), GZ, "dir->symlink, nearest-lower fix-ups, opaque over 30 files"),
        Layer(multi_layer4(), ZST, "modify, chmod, whiteouts of an opaque dir and a re-added "
                                   "dir, dir->file"),
    ]
    return layers


# --------------------------------------------------------------------------------------------
# shared-a / shared-b
# --------------------------------------------------------------------------------------------

def shared_layer0():
    t = Tar(PAX)
    t.dir("etc/", mtime=TB)
    t.file("etc/os-release", "ID=decant-shared\n", mtime=TB + 1)
    t.dir("lib/", mtime=TB + 2)
    for i in range(200):
        t.file("lib/mod%03d.so" % i, ml.pattern(1500 + 7 * i, 1000 + i), mode=0o755,
               mtime=TB + 10 + i)
    return t.end()


def shared_layer1():
    t = Tar(PAX)
    L = T + 1000
    t.dir("app/", mtime=L)
    t.file("app/common", "shared by shared-a and shared-b\n", mtime=L + 1)
    t.file("lib/.wh.mod000.so", mtime=L + 2)
    xattr_entry(t, "app/data/", DIR, xattrs=[("user.shared", "1")], mode=0o750, uid=100,
                gid=100, mtime=L + 3)
    return t.end()


def shared_a_layer2():
    t = Tar(PAX)
    L = T + 2000
    t.file("app/data/a", "only in shared-a\n", mtime=L + 1)
    t.file("app/.wh.common", mtime=L + 2)
    return t.end()


def shared_b_layer2():
    t = Tar(PAX)
    L = T + 2100
    t.file("app/data/b", "only in shared-b\n", mtime=L + 1)
    t.dir("lib/", mtime=L + 2)
    t.file("lib/.wh..wh..opq", mtime=L + 3)
    t.file("lib/only-b.so", "lib is opaque in shared-b\n", mtime=L + 4)
    return t.end()


def shared_b_layer3():
    t = Tar(PAX)
    L = T + 3100
    t.symlink("app/data/b-link", "b", mtime=L + 1)
    return t.end()


# --------------------------------------------------------------------------------------------
# platforms
# --------------------------------------------------------------------------------------------

PLATFORMS = [("amd64", None), ("arm64", "v8"), ("arm", "v7")]


def platform_string(arch, variant):
    return "linux/" + arch + ("/" + variant if variant else "")


def platforms_base():
    t = Tar(PAX)
    t.dir("etc/", mtime=TB)
    t.file("etc/os-release", "ID=decant-platforms\n", mtime=TB + 1)
    return t.end()


def platform_layer(arch, variant):
    p = platform_string(arch, variant)
    t = Tar(PAX)
    t.file("platform", p + "\n", mtime=T + 1)
    t.dir("lib/", mtime=T + 2)
    t.file("lib/" + arch + (variant or "") + ".marker", "built for " + p + "\n", mtime=T + 3)
    return t.end()


# --------------------------------------------------------------------------------------------
# bad images
# --------------------------------------------------------------------------------------------

def small_layer(tag, n=3, size=4000):
    t = Tar(PAX)
    t.dir(tag + "/", mtime=T)
    for i in range(n):
        t.file("%s/f%d" % (tag, i), ml.pattern(size + i, 200 + i), mtime=T + 1 + i)
    return t.end()


def corrupt_gzip(tar):
    """A gzip member whose deflate data has a reserved block type halfway (after a full
    flush), with a valid header and trailer (as make-layers.py err-gzip-deflate-corrupt)."""
    half = len(tar) // 2
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(tar[:half]) + c.flush(zlib.Z_FULL_FLUSH)
    cut = len(body)
    body = bytearray(body + c.compress(tar[half:]) + c.flush())
    body[cut] |= 0b110  # BTYPE=11: reserved
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + bytes(body) + struct.pack("<II", zlib.crc32(tar), len(tar) & 0xFFFFFFFF)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

class Out:
    def __init__(self, outdir):
        self.outdir = outdir
        self.images = []

    def config(self, name, diff_ids, arch="amd64", variant=None, comments=()):
        c = {
            "architecture": arch,
            "os": "linux",
            "created": CREATED,
            "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
            "history": [{"created": CREATED, "created_by": "decant fixture %s layer %d: %s"
                         % (name, i, c)} for i, c in enumerate(comments)],
        }
        if variant:
            c["variant"] = variant
        return jbytes(c)

    def manifest(self, config, layer_descs):
        return jbytes({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": layer_descs,
        })

    def write_layout(self, name, blobs, top_desc):
        """blobs: {digest: bytes} written under blobs/sha256/<hex of digest> (the digest may
        lie about the bytes). top_desc: the descriptor in index.json."""
        d = os.path.join(self.outdir, name)
        if os.path.lexists(d):
            shutil.rmtree(d)
        os.makedirs(os.path.join(d, "blobs", "sha256"))
        top = dict(top_desc)
        top["annotations"] = {REF_NAME: "latest"}
        files = [("oci-layout", jbytes({"imageLayoutVersion": "1.0.0"})),
                 ("index.json", jbytes({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": [top]}))]
        files += [("blobs/sha256/" + dg.split(":")[1], b) for dg, b in sorted(blobs.items())]
        for fname, b in files:
            with open(os.path.join(d, fname), "wb") as f:
                f.write(b)
        write_tar(os.path.join(self.outdir, name + ".oci.tar"),
                  [("blobs/", None), ("blobs/sha256/", None)] + files)

    def write_docker(self, name, repo_tag, config, layers):
        """`docker save` (before Docker 25): <config hex>.json, one directory per layer named by
        a v1-style id, manifest.json and repositories."""
        cfg_name = sha256(config).split(":")[1] + ".json"
        files, paths, parent = [], [], ""
        for chain, layer in zip(chain_ids([l.diff_id for l in layers]), layers):
            lid = hashlib.sha256((chain + " " + parent).encode()).hexdigest()
            v1 = {"id": lid, "created": CREATED, "container_config": {"Cmd": None}}
            if parent:
                v1["parent"] = parent
            files += [(lid + "/", None), (lid + "/VERSION", b"1.0"), (lid + "/json", jbytes(v1)),
                      (lid + "/layer.tar", layer.tar)]
            paths.append(lid + "/layer.tar")
            parent = lid
        repo, tag = repo_tag.rsplit(":", 1)
        files += [(cfg_name, config),
                  ("manifest.json", jbytes([{"Config": cfg_name, "RepoTags": [repo_tag],
                                             "Layers": paths}])),
                  ("repositories", jbytes({repo: {tag: parent}}))]
        write_tar(os.path.join(self.outdir, name + ".docker.tar"), files)

    def image(self, name, layers, expect="ok", description="", docker=False, tamper=None):
        """A single-manifest image. tamper(blobs, descs, diff_ids, extra) may change the blobs
        written, the layer descriptors, the config's diff_ids, and per-layer facts for
        images.json (extra[i] is merged into layers[i])."""
        blobs = {l.digest: l.blob for l in layers}
        descs = [{"mediaType": l.media, "digest": l.digest, "size": len(l.blob)} for l in layers]
        diff_ids = [l.diff_id for l in layers]
        extra = [{} for _ in layers]
        if tamper:
            tamper(blobs, descs, diff_ids, extra)
        config = self.config(name, diff_ids, comments=[l.comment for l in layers])
        manifest = self.manifest(config, descs)
        blobs[sha256(config)] = config
        blobs[sha256(manifest)] = manifest
        mdesc = {"mediaType": OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest)}
        self.write_layout(name, blobs, mdesc)
        repo_tag = None
        if docker:
            repo_tag = "decant-fixtures/%s:latest" % name
            self.write_docker(name, repo_tag, config, layers)
        self.images.append({
            "name": name,
            "layout": name,
            "ociArchive": name + ".oci.tar",
            "dockerArchive": name + ".docker.tar" if docker else None,
            "dockerRepoTag": repo_tag,
            "indexDigest": None,
            "manifestDigest": sha256(manifest),
            "manifestMediaType": OCI_MANIFEST,
            "configDigest": sha256(config),
            "platform": "linux/amd64",
            "layers": [dict(layer_entry(d, did, l), **x)
                       for d, did, l, x in zip(descs, diff_ids, layers, extra)],
            "chainIDs": chain_ids(diff_ids),
            "expect": expect,
            "description": description,
        })

    def platforms_image(self, name, description):
        base = Layer(platforms_base(), GZ, "shared base")
        blobs = {base.digest: base.blob}
        per = []
        for arch, variant in PLATFORMS:
            top = Layer(platform_layer(arch, variant), ZST if arch == "arm" else GZ,
                        "files for " + platform_string(arch, variant))
            layers = [base, top]
            blobs[top.digest] = top.blob
            descs = [{"mediaType": l.media, "digest": l.digest, "size": len(l.blob)}
                     for l in layers]
            diff_ids = [l.diff_id for l in layers]
            config = self.config(name, diff_ids, arch, variant, [l.comment for l in layers])
            manifest = self.manifest(config, descs)
            blobs[sha256(config)] = config
            blobs[sha256(manifest)] = manifest
            plat = {"architecture": arch, "os": "linux"}
            if variant:
                plat["variant"] = variant
            per.append({
                "platform": platform_string(arch, variant),
                "descriptor": {"mediaType": OCI_MANIFEST, "digest": sha256(manifest),
                               "size": len(manifest), "platform": plat},
                "manifestDigest": sha256(manifest),
                "configDigest": sha256(config),
                "layers": [layer_entry(d, did, l) for d, did, l in zip(descs, diff_ids, layers)],
                "chainIDs": chain_ids(diff_ids),
            })
        index = jbytes({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [p["descriptor"] for p in per]})
        blobs[sha256(index)] = index
        self.write_layout(name, blobs, {"mediaType": OCI_INDEX, "digest": sha256(index),
                                        "size": len(index)})
        amd = per[0]
        for p in per:
            del p["descriptor"]
        self.images.append({
            "name": name, "layout": name, "ociArchive": name + ".oci.tar",
            "dockerArchive": None, "dockerRepoTag": None,
            "indexDigest": sha256(index),
            "manifestDigest": amd["manifestDigest"], "manifestMediaType": OCI_MANIFEST,
            "configDigest": amd["configDigest"], "platform": amd["platform"],
            "layers": amd["layers"], "chainIDs": amd["chainIDs"],
            "expect": "ok", "description": description, "platforms": per,
        })

    def schema1_image(self, name, description):
        layer = Layer(small_layer("s1"), GZ, "schema 1 layer")
        v1 = {"id": hashlib.sha256(layer.diff_id.encode()).hexdigest(), "created": CREATED,
              "architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["/bin/sh"]}}
        manifest = json.dumps({
            "schemaVersion": 1,
            "name": "decant-fixtures/schema1",
            "tag": "latest",
            "architecture": "amd64",
            "fsLayers": [{"blobSum": layer.digest}],
            "history": [{"v1Compatibility": json.dumps(v1, sort_keys=True)}],
            "signatures": [{
                "header": {"jwk": {"crv": "P-256", "kid": "DECA:NTDE:CANT:DECA:NTDE:CANT:DECA:"
                                   "NTDE:CANT:DECA:NTDE:CANT", "kty": "EC",
                                   "x": "AAAA", "y": "AAAA"}, "alg": "ES256"},
                "signature": "not-a-real-signature",
                "protected": "eyJmb3JtYXRMZW5ndGgiOjAsImZvcm1hdFRhaWwiOiJDbjAiLCJ0aW1lIjoiMjAy"
                             "My0xMS0xNFQyMjoxMzoyMFoifQ",
            }],
        }, indent=3, sort_keys=True).encode()
        blobs = {layer.digest: layer.blob, sha256(manifest): manifest}
        self.write_layout(name, blobs, {"mediaType": SCHEMA1, "digest": sha256(manifest),
                                        "size": len(manifest)})
        self.images.append({
            "name": name, "layout": name, "ociArchive": name + ".oci.tar",
            "dockerArchive": None, "dockerRepoTag": None, "indexDigest": None,
            "manifestDigest": sha256(manifest), "manifestMediaType": SCHEMA1,
            "configDigest": None, "platform": "linux/amd64",
            "layers": [dict(layer_entry({"mediaType": DOCKER_GZ, "digest": layer.digest,
                                         "size": len(layer.blob)}, layer.diff_id, layer))],
            "chainIDs": chain_ids([layer.diff_id]),
            "expect": {"error": "schema 1"}, "description": description,
        })


def layer_entry(desc, diff_id, layer):
    return {"digest": desc["digest"], "mediaType": desc["mediaType"], "diffID": diff_id,
            "size": desc["size"], "unstableMtime": unstable_dirs(layer.tar)}


def write_tar(path, files):
    """A deterministic tar: entries in the given order, root-owned, fixed mtime."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for fname, b in files:
            ti = tarfile.TarInfo(fname)
            ti.mtime = ARCHIVE_MTIME
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            if b is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.size = len(b)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(b))


# --------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.stderr.write("usage: make-images.py OUTDIR\n")
        return 2
    out = Out(sys.argv[1])
    os.makedirs(out.outdir, exist_ok=True)

    out.image("multi", image_multi(), docker=True, description=(
        "5 layers (gzip, zstd, tar, gzip, zstd): 3000 files over 100 dirs; whiteouts of files "
        "and dirs, opaque dirs over lower dirs, implicit parents copying owner/mode/xattrs "
        "from the nearest lower layer (past an opaque dir; stopped by a whiteout), hardlinks, "
        "file->dir, dir->file, dir->symlink, symlink->file->symlink, a dir re-added under a "
        "whiteout and whited out again, setuid/setgid, char/block devices, fifos"))

    s0 = Layer(shared_layer0(), GZ, "shared base: 200 libraries")
    s1 = Layer(shared_layer1(), ZST, "shared app layer")
    out.image("shared-a", [s0, s1, Layer(shared_a_layer2(), GZ, "shared-a only")], docker=True,
              description="layers 0-1 byte-for-byte the same blobs as shared-b's; one own layer")
    out.image("shared-b", [s0, s1, Layer(shared_b_layer2(), TAR, "shared-b only"),
                           Layer(shared_b_layer3(), ZST, "shared-b only")], docker=True,
              description="layers 0-1 byte-for-byte the same blobs as shared-a's; two own layers "
                          "(an opaque lib/ over the shared one)")

    out.platforms_image("platforms", "index.json -> OCI image index with linux/amd64, "
                                     "linux/arm64/v8 and linux/arm/v7 manifests; the shared "
                                     "base plus a layer with /platform naming the platform")

    # ---- bad images -----------------------------------------------------------------------
    def base_and(tag):
        return [Layer(small_layer(tag + "-base", n=2, size=3000), GZ, "good base"),
                Layer(small_layer(tag), GZ, "the bad layer")]

    def bad_digest(blobs, descs, diff_ids, extra):
        real = descs[1]["digest"]
        b = bytearray(blobs.pop(real))
        b[len(b) // 2] ^= 0x01  # one flipped bit, stored under the descriptor's digest
        blobs[real] = bytes(b)
        extra[1]["actualDigest"] = sha256(bytes(b))

    out.image("bad-layer-digest", base_and("bld"), {"error": "digest"}, tamper=bad_digest,
              description="layer 1's blob (under blobs/sha256/<descriptor digest>) has one bit "
                          "flipped: its sha256 is not the descriptor's digest; same size")

    def bad_size(blobs, descs, diff_ids, extra):
        extra[1]["actualSize"] = descs[1]["size"]
        descs[1]["size"] += 1000

    out.image("bad-layer-size", base_and("bls"), {"error": "size"}, tamper=bad_size,
              description="layer 1's descriptor size is 1000 bytes more than the blob; the "
                          "digest is right")

    def bad_diffid(blobs, descs, diff_ids, extra):
        extra[1]["actualDiffID"] = diff_ids[1]
        diff_ids[1] = sha256(b"not the uncompressed layer\n")

    out.image("bad-diffid", base_and("bdi"), {"error": "diff_id"}, tamper=bad_diffid,
              description="config rootfs.diff_ids[1] is not the sha256 of layer 1's "
                          "uncompressed tar; blob digest and size are right")

    def corrupt(blobs, descs, diff_ids, extra):
        tar = small_layer("cor", n=4, size=20000)
        blob = corrupt_gzip(tar)
        del blobs[descs[1]["digest"]]
        blobs[sha256(blob)] = blob
        descs[1].update(digest=sha256(blob), size=len(blob))
        diff_ids[1] = sha256(tar)

    out.image("corrupt-layer", base_and("cor0"), {"error": "corrupt"}, tamper=corrupt,
              description="layer 1 is a gzip member whose deflate data has a reserved block "
                          "type halfway; descriptor digest/size match the corrupted bytes; the "
                          "diff_id is the intended tar's")

    def truncated(blobs, descs, diff_ids, extra):
        blob = blobs.pop(descs[1]["digest"])
        cut = blob[: len(blob) * 6 // 10]
        blobs[sha256(cut)] = cut
        descs[1].update(digest=sha256(cut), size=len(cut))

    out.image("truncated-layer", base_and("trn"), {"error": "truncated"}, tamper=truncated,
              description="layer 1's gzip stream cut at 60%; descriptor digest/size match the "
                          "cut bytes; the diff_id is the whole tar's")

    out.schema1_image("schema1", "index.json points to a Docker schema 1 signed manifest "
                                 "(application/vnd.docker.distribution.manifest.v1+prettyjws) "
                                 "with one fsLayer present in blobs/")

    def missing(blobs, descs, diff_ids, extra):
        del blobs[descs[1]["digest"]]
        extra[1]["missing"] = True

    out.image("missing-blob", base_and("mis"), {"error": "not found"}, tamper=missing,
              description="layer 1's blob is absent from blobs/ (layout and archive); "
                          "manifest and config are complete")

    with open(os.path.join(out.outdir, "images.json"), "w") as f:
        json.dump({"images": out.images}, f, indent=1, sort_keys=True)
        f.write("\n")
    total = 0
    for dirpath, _, files in os.walk(out.outdir):
        if os.path.relpath(dirpath, out.outdir).split(os.sep)[0] in ("ref", "containerd"):
            continue
        total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in files)
    print("wrote %d images, %d bytes to %s" % (len(out.images), total, out.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
