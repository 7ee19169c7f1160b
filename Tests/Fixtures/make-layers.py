#!/usr/bin/env python3
"""make-layers.py — generate the layer-apply test corpus.

Usage:  python3 Tests/Fixtures/make-layers.py OUTDIR

Writes OUTDIR/blobs/*.tar{,.gz,.zst} and OUTDIR/cases.json.  Python 3 standard library only, plus
the `zstd` command-line tool for the zstd cases.  Output is deterministic: fixed mtimes, fixed
contents, no randomness (a seeded generator where bytes must look random), gzip headers with
mtime 0.  Compressed bytes can still differ between zlib/zstd versions; the uncompressed streams
(and so every diffID) do not.

cases.json:
  {"cases": [{"name", "blob", "mediaType", "base", "baseMediaType", "expect", "description",
              "diffID", "baseDiffID", "ignoreMtime"}]}
  blob/base are relative to OUTDIR (base may be null: the case layer is then the bottom layer).
  expect is "ok" or {"error": SUBSTRING}.  diffID is the sha256 of the uncompressed stream
  (for broken streams: of the tar the blob was made from; only the reference config uses it).
  ignoreMtime lists paths whose mtime is not reproducible (directories created implicitly, so
  their mtime is the time of extraction); compare trees with
  `treecompare.py A B --ignore-mtime PATH...`.

Error substrings (the applier's error message for the case must contain this text; matching
is case-sensitive, all lowercase):

  | substring              | cases                                                        |
  | ---------------------- | ------------------------------------------------------------ |
  | truncated              | err-gzip-truncated, err-zstd-truncated,                      |
  |                        | err-tar-truncated-data, err-tar-truncated-header             |
  | checksum               | err-gzip-crc (gzip trailer CRC-32 mismatch)                  |
  | corrupt                | err-gzip-deflate-corrupt, err-zstd-corrupt                   |
  | trailing data          | err-gzip-trailing-garbage (non-gzip bytes after a member)    |
  | header checksum        | err-tar-bad-checksum (tar header checksum mismatch)          |
  | sparse                 | err-gnu-sparse (GNU old-style sparse, typeflag 'S')          |
  | unsupported entry type | err-unknown-typeflag ('Z'), err-gnu-dumpdir ('D')            |
  | invalid whiteout       | err-whiteout-dotdot (.wh..), err-whiteout-dotdotdot (.wh...) |
  | media type             | err-zstd-declared-gzip (the message should name gzip, zstd)  |
  | hardlink target        | err-hardlink-missing-target                                  |

containerd 1.6.20 accepts two of these: err-gzip-trailing-garbage when it inflates with unpigz
(Debian's default when pigz is installed; Go's reader rejects it), and err-zstd-declared-gzip
(it sniffs the compression from the magic bytes). Decant rejects both on purpose.
"""

import gzip
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib

GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
ZST = "application/vnd.oci.image.layer.v1.tar+zstd"
TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip"

T_BASE = 1600000000  # 2020-09-13, base layer entries
T = 1700000000  # 2023-11-14, case layer entries (T + small offsets)

USTAR, GNU, PAX = tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT
REG, AREG, DIR, SYM, LNK = tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
CHR, BLK, FIFO = tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE


# --------------------------------------------------------------------------------------------
# tar building
# --------------------------------------------------------------------------------------------

def pad512(b):
    return b + b"\0" * (-len(b) % 512)


def octal(n, width):
    """NUL-terminated zero-padded octal field of `width` bytes."""
    s = b"%0*o" % (width - 1, n)
    assert len(s) == width - 1, (n, width)
    return s + b"\0"


def raw_header(name, typeflag, size=0, mode=0o644, uid=0, gid=0, mtime=T, linkname=b"",
               magic="ustar", devmajor=0, devminor=0, uname=b"", gname=b"", prefix=b"",
               checksum_delta=0, extra=None):
    """A hand-built 512-byte header. magic: "ustar" (POSIX), "gnu" (GNU), "v7" (no magic).
    checksum_delta != 0 writes a wrong checksum. extra: {offset: bytes} patched in before the
    checksum is computed."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(linkname, str):
        linkname = linkname.encode()
    if isinstance(typeflag, str):
        typeflag = typeflag.encode()
    assert len(name) <= 100 and len(linkname) <= 100 and len(prefix) <= 155
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(uid, 8)
    h[116:124] = octal(gid, 8)
    h[124:136] = octal(size, 12)
    h[136:148] = octal(mtime, 12)
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    if magic == "ustar":
        h[257:265] = b"ustar\x0000"
    elif magic == "gnu":
        h[257:265] = b"ustar  \x00"
    if magic != "v7":
        h[265:265 + len(uname)] = uname
        h[297:297 + len(gname)] = gname
        h[329:337] = octal(devmajor, 8)
        h[337:345] = octal(devminor, 8)
    if magic == "ustar":
        h[345:345 + len(prefix)] = prefix
    for off, b in (extra or {}).items():
        h[off:off + len(b)] = b
    h[148:156] = b" " * 8
    chk = sum(h) + checksum_delta
    h[148:156] = b"%06o\0 " % chk
    return bytes(h)


def pax_payload(records):
    """records: list of (key str, value bytes) -> pax extended header payload."""
    out = b""
    for k, v in records:
        body = b" " + k.encode() + b"=" + v + b"\n"
        n = len(body) + 1
        while len(str(n).encode()) + len(body) != n:
            n = len(str(n).encode()) + len(body)
        out += str(n).encode() + body
    return out


def pax_header(records, typeflag="x", name="././@PaxHeader"):
    data = pax_payload(records)
    return raw_header(name, typeflag, size=len(data), mtime=0) + pad512(data)


class Tar:
    """Appends entries to an uncompressed tar stream. Headers come from tarfile.TarInfo.tobuf in
    the chosen format (USTAR/GNU/PAX); raw() appends hand-built bytes."""

    def __init__(self, fmt=PAX):
        self.fmt = fmt
        self.buf = bytearray()

    def add(self, name, type=REG, data=b"", mode=None, uid=0, gid=0, mtime=T, linkname="",
            devmajor=0, devminor=0, pax=None, fmt=None, uname="", gname=""):
        if isinstance(data, str):
            data = data.encode()
        ti = tarfile.TarInfo(name)
        ti.type = type
        ti.size = len(data) if type in (REG, AREG) else 0
        if mode is None:
            mode = 0o755 if type == DIR else (0o777 if type == SYM else 0o644)
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.uname, ti.gname = uname, gname
        ti.mtime = mtime
        ti.linkname = linkname
        ti.devmajor, ti.devminor = devmajor, devminor
        ti.pax_headers = dict(pax or {})
        self.buf += ti.tobuf(fmt if fmt is not None else self.fmt, "utf-8", "surrogateescape")
        if ti.size:
            self.buf += pad512(data)
        return self

    def dir(self, name, **kw):
        return self.add(name, DIR, **kw)

    def file(self, name, data=b"", **kw):
        return self.add(name, REG, data, **kw)

    def symlink(self, name, target, **kw):
        return self.add(name, SYM, linkname=target, **kw)

    def hardlink(self, name, target, **kw):
        return self.add(name, LNK, linkname=target, **kw)

    def raw(self, b):
        self.buf += b
        return self

    def raw_entry(self, header, data=b""):
        self.buf += header + pad512(data)
        return self

    def end(self, trailing=b""):
        return bytes(self.buf) + b"\0" * 1024 + trailing

    def unterminated(self):
        return bytes(self.buf)


def xattr_entry(t, name, type=REG, data=b"", xattrs=(), mode=None, uid=0, gid=0, mtime=T,
                linkname="", devmajor=0, devminor=0):
    """A PAX entry whose extended header carries SCHILY.xattr.* records with arbitrary bytes."""
    if isinstance(data, str):
        data = data.encode()
    recs = [("SCHILY.xattr." + k, v if isinstance(v, bytes) else v.encode()) for k, v in xattrs]
    t.raw(pax_header(recs, name="PaxHeaders/" + os.path.basename(name.rstrip("/"))))
    return t.add(name, type, data, mode=mode, uid=uid, gid=gid, mtime=mtime, linkname=linkname,
                 devmajor=devmajor, devminor=devminor, fmt=USTAR)


# --------------------------------------------------------------------------------------------
# compression
# --------------------------------------------------------------------------------------------

def gz(data, level=6):
    return gzip.compress(data, compresslevel=level, mtime=0)


def zstd(data, level=3):
    return subprocess.run(["zstd", "-q", "-c", "-%d" % level, "--no-progress"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def zstd_block_header_offset(frame):
    """Offset of the first block header in a zstd frame (after the frame header)."""
    assert frame[:4] == b"\x28\xb5\x2f\xfd"
    fhd = frame[4]
    fcs_flag, single, did_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    off = 5 + (0 if single else 1)
    off += [0, 1, 2, 4][did_flag]
    off += [1 if single else 0, 2, 4, 8][fcs_flag]
    return off


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def pattern(n, seed):
    """n bytes that compress well but where every 4 KiB chunk is unique (it starts with its
    offset), so misplaced or duplicated buffers are detected."""
    rnd = random.Random(seed)
    filler = bytes(rnd.getrandbits(8) for _ in range(64)) * 64
    out = bytearray()
    off = 0
    while off < n:
        chunk = struct.pack("<Q", off) + filler[8:4096]
        out += chunk
        off += 4096
    return bytes(out[:n])


def randbytes(n, seed):
    return random.Random(seed).randbytes(n)


# --------------------------------------------------------------------------------------------
# the base layer
# --------------------------------------------------------------------------------------------

def base_layer():
    t = Tar(PAX)
    tb = T_BASE
    t.dir("bin/", mtime=tb)
    t.file("bin/sh", "#!/bin/false base shell\n", mode=0o755, mtime=tb + 1)
    t.symlink("bin/ls", "sh", mtime=tb + 2)
    t.dir("etc/", mtime=tb + 3)
    xattr_entry(t, "etc/hosts", data="127.0.0.1 localhost\n", xattrs=[("user.base", "1")],
                mtime=tb + 4)
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", mtime=tb + 5)
    t.dir("opt/", mtime=tb + 6)
    t.file("opt/keep", "kept\n", mtime=tb + 7)
    t.file("opt/old", "whited out by case whiteouts\n", mtime=tb + 8)
    t.symlink("opt/oldlink", "old", mtime=tb + 9)
    t.dir("opt/olddir/", mtime=tb + 10)
    t.file("opt/olddir/inner", "inner\n", mtime=tb + 11)
    t.file("rootfile", "root-level file, whited out by case whiteouts\n", mtime=tb + 12)
    t.dir("usr/", mtime=tb + 13)
    t.dir("usr/lib/", mtime=tb + 14)
    t.file("usr/lib/libc.so", "not really libc\n", mode=0o755, mtime=tb + 15)
    t.symlink("lib", "usr/lib", mtime=tb + 16)
    t.dir("var/", mtime=tb + 17)
    t.dir("var/cache/", mtime=tb + 18)
    t.file("var/cache/a", "cache a\n", mtime=tb + 19)
    t.dir("var/cache/sub/", mtime=tb + 20)
    t.file("var/cache/sub/b", "cache b\n", mtime=tb + 21)
    t.dir("home/", mtime=tb + 22)
    t.dir("home/user/", mode=0o700, uid=1000, gid=1000, mtime=tb + 23)
    t.file("home/user/.profile", "export PS1=x\n", uid=1000, gid=1000, mtime=tb + 24)
    t.dir("tmp/", mode=0o1777, mtime=tb + 25)
    return t.end()


# --------------------------------------------------------------------------------------------
# ok cases
# --------------------------------------------------------------------------------------------

def case_files():
    t = Tar(GNU)
    t.dir("files/", mtime=T)
    t.file("files/empty", b"", mtime=T + 1)
    t.file("files/small", "hello\n", mtime=T + 2)
    t.file("files/odd-1000", pattern(1000, 1), mtime=T + 3)
    t.file("files/exact-512", pattern(512, 2), mtime=T + 4)
    t.file("files/exact-1mib", pattern(1 << 20, 3), mtime=T + 5)
    t.file("files/big", pattern(2 * (1 << 20) + 12345, 4), mtime=T + 6)
    t.file("files/random-70001", randbytes(70001, 5), mtime=T + 7)
    t.file("files/ünïcödé name", "utf-8 name\n", mtime=T + 8)
    t.file("files/space and\ttab", "odd name\n", mtime=T + 9)
    # Large enough to be written with direct I/O; a write drops setuid, so the mode comes after.
    t.file("files/huge-setuid", pattern(9 * (1 << 20) + 4321, 6), mode=0o4755, mtime=T + 10)
    return t.end()


def case_directories():
    t = Tar(GNU)
    t.dir("d1/", mtime=T)
    t.dir("d1/d2/", mtime=T + 1)
    t.dir("d1/d2/d3/", mtime=T + 2)
    t.file("d1/d2/d3/leaf", "leaf\n", mtime=T + 3)
    t.dir("empty/", mtime=T + 4)
    t.dir("private/", mode=0o700, uid=1000, gid=1000, mtime=T + 5)
    t.file("private/secret", "s\n", mode=0o600, uid=1000, gid=1000, mtime=T + 6)
    # tarfile always appends '/' to directory names; this header is hand-built
    t.raw_entry(raw_header("no-trailing-slash", b"5", mode=0o755, mtime=T + 7))
    return t.end()


def case_symlinks():
    t = Tar(GNU)
    t.dir("links/", mtime=T)
    t.symlink("links/relative", "../etc/hosts", mtime=T + 1)
    t.symlink("links/absolute", "/etc/passwd", mtime=T + 2)
    t.symlink("links/dangling", "does/not/exist", mtime=T + 3)
    t.symlink("links/to-dir", "../links", mtime=T + 4)
    t.symlink("links/owned", "x", uid=1234, gid=5678, mtime=T + 5)
    t.symlink("links/self", "self", mtime=T + 6)
    t.symlink("links/dotdot", "../../../../..", mtime=T + 7)
    t.symlink("links/mode-0755", "x", mode=0o755, mtime=T + 8)
    t.symlink("links/max-100", "t" * 100, mtime=T + 9)
    return t.end()


def case_hardlinks():
    t = Tar(GNU)
    t.dir("hl/", mtime=T)
    t.file("hl/orig", "shared inode\n", mode=0o644, uid=10, gid=11, mtime=T + 1)
    t.hardlink("hl/link1", "hl/orig", mode=0o644, uid=10, gid=11, mtime=T + 1)
    t.dir("hl/sub/", mtime=T + 2)
    t.hardlink("hl/sub/link2", "hl/orig", mode=0o644, uid=10, gid=11, mtime=T + 1)
    t.hardlink("hl/link3", "hl/sub/link2", mode=0o644, uid=10, gid=11, mtime=T + 1)
    t.file("hl/meta", "link header metadata differs\n", mode=0o644, uid=1, gid=2, mtime=T + 3)
    t.hardlink("hl/meta-link", "hl/meta", mode=0o600, uid=20, gid=21, mtime=T + 4)
    t.file("hl/exec", "#!/bin/false\n", mode=0o4755, mtime=T + 5)
    t.hardlink("hl/exec-link", "./hl/exec", mode=0o4755, mtime=T + 5)
    return t.end()


def case_hardlink_to_symlink():
    t = Tar(GNU)
    t.dir("hs/", mtime=T)
    t.file("hs/target", "t\n", mode=0o644, mtime=T + 1)
    t.symlink("hs/sym", "target", mtime=T + 2)
    t.hardlink("hs/hard", "hs/sym", mode=0o600, mtime=T + 3)
    return t.end()


def case_devices():
    t = Tar(USTAR)
    t.dir("dev/", mtime=T)
    t.add("dev/null", CHR, mode=0o666, devmajor=1, devminor=3, mtime=T + 1)
    t.add("dev/sda", BLK, mode=0o660, gid=6, devmajor=8, devminor=0, mtime=T + 2)
    t.add("dev/nvme-big", BLK, mode=0o600, devmajor=259, devminor=65537, mtime=T + 3)
    t.add("dev/tty-odd", CHR, mode=0o620, uid=5, gid=5, devmajor=4, devminor=64, mtime=T + 4)
    t.add("dev/fifo", FIFO, mode=0o644, mtime=T + 5)
    t.add("dev/fifo-private", FIFO, mode=0o600, uid=7, gid=8, mtime=T + 6)
    t.add("dev/char-zero", CHR, mode=0o644, devmajor=0, devminor=0, uid=3, gid=4, mtime=T + 7)
    return t.end()


def case_modes():
    t = Tar(USTAR)
    t.dir("m/", mtime=T)
    t.file("m/setuid", "x", mode=0o4755, mtime=T + 1)
    t.file("m/setgid", "x", mode=0o2755, mtime=T + 2)
    t.file("m/setuid-nonroot", "x", mode=0o4750, uid=1000, gid=1000, mtime=T + 3)
    t.file("m/all", "x", mode=0o7777, mtime=T + 4)
    t.file("m/none", "x", mode=0o000, mtime=T + 5)
    t.file("m/odd", "x", mode=0o741, mtime=T + 6)
    t.dir("m/sticky/", mode=0o1777, mtime=T + 7)
    t.dir("m/setgid-dir/", mode=0o2775, gid=50, mtime=T + 8)
    t.dir("m/dir-0600/", mode=0o600, mtime=T + 9)
    t.file("m/dir-0600/child", "c", mode=0o644, mtime=T + 10)
    t.dir("m/dir-0000/", mode=0o000, mtime=T + 11)
    t.file("m/dir-0000/child", "c", mode=0o400, mtime=T + 12)
    t.add("m/fifo-sticky", FIFO, mode=0o1640, mtime=T + 13)
    # created in a setgid directory, it takes the directory's group and setgid bit first
    t.dir("m/setgid-dir/root-sub/", mode=0o755, mtime=T + 14)
    # more than the umask lets mkdir give
    t.dir("m/dir-0777/", mode=0o777, mtime=T + 15)
    return t.end()


def case_owners():
    t = Tar(USTAR)
    t.dir("own/", uid=1000, gid=1000, mtime=T)
    t.file("own/user", "u", uid=1000, gid=1000, mtime=T + 1)
    t.file("own/nobody", "n", uid=65534, gid=65534, mtime=T + 2)
    t.file("own/gid-only", "g", uid=0, gid=1234, mtime=T + 3)
    t.file("own/names-ignored", "names", uid=12345, gid=54321, uname="root", gname="root",
           mtime=T + 4)
    t.file("own/max-octal", "m", uid=2097151, gid=2097151, mtime=T + 5)
    t.symlink("own/link", "user", uid=77, gid=88, mtime=T + 6)
    return t.end()


def case_format_ustar():
    t = Tar(USTAR)
    longdir = "ustar/" + "d" * 90 + "/" + "e" * 40  # needs the prefix field
    t.dir("ustar/", mtime=T)
    t.dir("ustar/" + "d" * 90 + "/", mtime=T + 1)
    t.dir(longdir + "/", mtime=T + 2)
    t.file(longdir + "/" + "f" * 99, "prefix + name\n", mtime=T + 3)
    t.symlink("ustar/link100", "L" * 100, mtime=T + 4)
    t.file("ustar/" + "n" * 94, "name field exactly 100 bytes\n", mtime=T + 5)
    return t.end()


def case_format_gnu():
    t = Tar(GNU)
    long1 = "gnu/" + "a" * 150
    long2 = "gnu/" + "b" * 120 + "/" + "c" * 180
    t.dir("gnu/", mtime=T)
    t.file(long1, "long name via ././@LongLink 'L'\n", mtime=T + 1)
    t.dir("gnu/" + "b" * 120 + "/", mtime=T + 2)
    t.file(long2, "very long name\n", mtime=T + 3)
    t.symlink("gnu/longlink-sym", "x/" * 100 + "target", mtime=T + 4)
    t.hardlink("gnu/" + "h" * 130, long1, mtime=T + 1)
    t.file("gnu/big-ids", "base-256 uid/gid\n", uid=3000000, gid=3000001, mtime=T + 5)
    t.dir("gnu/big-ids-dir/", uid=2097152, gid=4000000000, mtime=T + 6)
    return t.end()


def case_format_pax():
    t = Tar(PAX)
    long1 = "pax/" + "p" * 200
    t.dir("pax/", mtime=T, pax={"mtime": "%d.5" % T})
    t.file(long1, "pax path record\n", mtime=T + 1)
    t.symlink("pax/longlink-sym", "y/" * 120 + "target", mtime=T + 2)
    t.hardlink("pax/" + "q" * 150, long1, mtime=T + 1)
    t.file("pax/ns-mtime", "ns\n", mtime=T + 3, pax={"mtime": "%d.123456789" % (T + 3)})
    t.file("pax/big-ids", "pax uid/gid\n", uid=4000000000, gid=4000000001, mtime=T + 4)
    t.file("pax/üñí-path", "pax utf-8 path\n", mtime=T + 5)
    t.file("pax/with-atime", "atime record\n", mtime=T + 6,
           pax={"atime": "%d.25" % (T + 100), "ctime": "%d" % (T + 200)})
    t.dir("pax/ns-dir/", mtime=T + 7, pax={"mtime": "%d.000000001" % (T + 7)})
    t.file("pax/ns-dir/f", "f\n", mtime=T + 8)
    t.symlink("pax/ns-sym", "f", mtime=T + 9, pax={"mtime": "%d.999999999" % (T + 9)})
    return t.end()


def case_times():
    t = Tar(PAX)
    t.dir("t/", mtime=T)
    t.file("t/epoch", "0\n", mtime=0)
    t.file("t/pre-1970", "negative mtime: containerd stores 0\n", mtime=0,
           pax={"mtime": "-86400"})
    t.file("t/y2038", "2^31\n", mtime=2 ** 31)
    t.file("t/y2100", "4102444800\n", mtime=4102444800)
    t.file("t/after-2262", "year 2286: containerd stores 0\n", mtime=0,
           pax={"mtime": "10000000000"})
    t.file("t/gnu-negative", "GNU base-256 negative mtime\n", mtime=-1000, fmt=GNU)
    return t.end()


def case_pax_xattrs():
    t = Tar(PAX)
    cap = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)  # v2, effective, cap_net_raw
    xattr_entry(t, "x/", DIR, xattrs=[("user.dir", "on a directory"),
                                      ("security.decant-dir", "sec")], mode=0o755, mtime=T)
    xattr_entry(t, "x/file", data="xattrs\n",
                xattrs=[("user.a", "1"), ("user.binary", b"\x00\x01\xff\xfe zero and high"),
                        ("user.empty", b""), ("security.capability", cap),
                        ("trusted.decant", "must not be applied")],
                mode=0o755, mtime=T + 1)
    xattr_entry(t, "x/only-trusted", data="t\n", xattrs=[("trusted.overlay.opaque", "y")],
                mtime=T + 2)
    xattr_entry(t, "x/sub/", DIR, xattrs=[("trusted.decant-dir", "no")], mtime=T + 3)
    xattr_entry(t, "x/long-value", data="l\n", xattrs=[("user.long", "v" * 3000)], mtime=T + 4)
    # Written with direct I/O; the capability must survive it (a write drops it).
    xattr_entry(t, "x/big-capable", data=pattern(5 * (1 << 20) + 77, 7),
                xattrs=[("security.capability", cap)], mode=0o755, mtime=T + 5)
    xattr_entry(t, "x/fifo", FIFO, xattrs=[("user.on-fifo", "no")], mtime=T + 5)
    xattr_entry(t, "x/symlink", SYM, linkname="file",
                xattrs=[("user.on-symlink", "no"), ("security.on-symlink", "yes")], mtime=T + 6)
    xattr_entry(t, "x/chardev", CHR, devmajor=1, devminor=5, xattrs=[("user.on-dev", "no"), ("security.on-dev", "yes")],
                mtime=T + 7)
    return t.end()


def case_pax_global_header():
    t = Tar(PAX)
    t.raw(pax_header([("comment", b"global header, must be ignored"), ("uid", b"4242"),
                      ("gid", b"4343"), ("mtime", b"1234567890"), ("path", b"global-path"),
                      ("SCHILY.xattr.user.global", b"no")], typeflag="g",
                     name="pax_global_header"))
    t.dir("glob/", mtime=T)
    t.file("glob/after-global", "uid/gid/mtime/xattr come from this entry only\n", uid=1,
           gid=2, mtime=T + 1)
    t.raw(pax_header([("comment", b"second global header mid-stream")], typeflag="g",
                     name="pax_global_header"))
    t.file("glob/after-second", "x\n", mtime=T + 2)
    return t.end()


def case_v7_nul_typeflag():
    t = Tar(USTAR)
    t.raw_entry(raw_header("v7dir/", b"\0", mode=0o750, mtime=T, magic="v7"))
    d = b"old V7 regular file, typeflag NUL\n"
    t.raw_entry(raw_header("v7dir/file", b"\0", size=len(d), mode=0o640, uid=3, gid=4,
                           mtime=T + 1, magic="v7"), d)
    d2 = b"ustar magic, typeflag NUL\n"
    t.raw_entry(raw_header("nul-ustar", b"\0", size=len(d2), mode=0o600, mtime=T + 2,
                           magic="ustar"), d2)
    t.raw_entry(raw_header("nul-ustar-dir/", b"\0", mode=0o700, mtime=T + 3, magic="ustar"))
    t.raw_entry(raw_header("v7-symlink", b"2", linkname="v7dir/file", mode=0o777,
                           mtime=T + 4, magic="v7"))
    return t.end()


def case_format_odd():
    """Headers Go's archive/tar (so containerd) reads its own way; libarchive reads some of them
    differently, so LibarchiveAgreementTests leaves this case out."""
    t = Tar(PAX)
    star_prefix = "odd/" + "s" * 127  # fills star's 131-byte prefix field: no NUL before the times
    t.dir("odd/", mtime=T)
    t.dir(star_prefix + "/", mtime=T + 1)
    t.dir("odd/ver/", mtime=T + 2)
    t.dir("odd/oldgo/", mtime=T + 3)
    # star: POSIX magic, "tar\0" in the last bytes, access and change times after the prefix.
    d = b"star header\n"
    t.raw_entry(raw_header("file", REG, size=len(d), mtime=T + 4, magic="ustar", prefix=star_prefix.encode(),
                           extra={476: octal(T + 40, 12), 488: octal(T + 50, 12), 508: b"tar\0"}), d)
    # POSIX magic with a version other than "00": still ustar, prefix included.
    d = b"ustar version 01\n"
    t.raw_entry(raw_header("v01", REG, size=len(d), mtime=T + 5, magic="ustar", prefix=b"odd/ver",
                           extra={263: b"01"}), d)
    # GNU magic with a ustar prefix where the access and change times belong, as Go wrote it
    # before 1.8 (golang/go#12594): read as the name's prefix.
    d = b"pre-Go-1.8 GNU header\n"
    t.raw_entry(raw_header("file", REG, size=len(d), mtime=T + 6, magic="gnu", extra={345: b"odd/oldgo"}), d)
    # GNU times that parse: an access time, no prefix.
    d = b"GNU access time\n"
    t.raw_entry(raw_header("odd/gnu-atime", REG, size=len(d), mtime=T + 7, magic="gnu",
                           extra={345: octal(T + 70, 12)}), d)
    return t.end()


def case_dir_after_children():
    t = Tar(PAX)
    t.file("late/file", "created before its directory header\n", mtime=T + 1)
    t.file("late/sub/deeper", "deeper\n", mtime=T + 2)
    t.dir("late/sub/", mode=0o750, uid=7, gid=8, mtime=T + 3)
    t.dir("late/", mode=0o700, uid=5, gid=6, mtime=T + 4)
    return t.end()


def case_same_path_twice():
    t = Tar(PAX)
    t.dir("dup/", mtime=T)
    # file replaced by file
    t.file("dup/f", "first version\n", mode=0o600, uid=1, mtime=T + 1)
    t.file("dup/f", "second version, longer\n", mode=0o644, uid=2, mtime=T + 2)
    # file replaced by dir
    t.file("dup/f2", "becomes a directory\n", mtime=T + 3)
    t.dir("dup/f2/", mode=0o750, mtime=T + 4)
    t.file("dup/f2/c", "child\n", mtime=T + 5)
    # dir replaced by file (the directory's header times are re-applied at the end)
    t.dir("dup/d3/", mode=0o700, mtime=T + 6)
    t.file("dup/d3/c", "removed with its directory\n", mtime=T + 7)
    t.file("dup/d3", "directory replaced by file\n", mode=0o640, mtime=T + 8)
    # dir merged with dir
    xattr_entry(t, "dup/d4/", DIR, xattrs=[("user.first", "1")], mode=0o755, uid=0,
                mtime=T + 9)
    t.file("dup/d4/kept", "survives the merge\n", mtime=T + 10)
    xattr_entry(t, "dup/d4/", DIR, xattrs=[("user.second", "2")], mode=0o711, uid=5, gid=6,
                mtime=T + 11)
    # symlink replaced by file, file replaced by symlink
    t.symlink("dup/s", "nowhere", mtime=T + 12)
    t.file("dup/s", "symlink replaced by file\n", mtime=T + 13)
    t.file("dup/s2", "file replaced by symlink\n", mtime=T + 14)
    t.symlink("dup/s2", "f", mtime=T + 15)
    return t.end()


def case_names_dot_slash():
    t = Tar(PAX)
    t.dir("./", mode=0o700, uid=99, gid=99, mtime=T + 50)
    t.raw_entry(raw_header(".", b"5", mode=0o711, uid=98, gid=98, mtime=T + 51))
    t.dir("/", mode=0o777, uid=97, gid=97, mtime=T + 52)
    t.file("./dotslash-file", "./ prefix\n", mtime=T + 1)
    t.file("/slash-file", "/ prefix\n", mtime=T + 2)
    t.dir("./ds-dir/", mtime=T + 3)
    t.file("./ds-dir/./inner", "inner\n", mtime=T + 4)
    t.file("ds-dir//double-slash", "double slash\n", mtime=T + 5)
    t.file("ds-dir/x/../cleaned", "x/.. cleaned away\n", mtime=T + 6)
    t.file(".//ds-dir/./././many-dots", "many\n", mtime=T + 7)
    return t.end()


def case_whiteouts():
    t = Tar(PAX)
    t.dir("opt/", mtime=T)
    t.file("opt/.wh.old", uid=7, gid=8, mtime=T + 1)
    t.file("opt/.wh.olddir", mtime=T + 2)
    t.file("opt/.wh.oldlink", mode=0o600, uid=1000, gid=1001, mtime=T + 3)
    t.file("opt/.wh.never-existed", mtime=T + 4)
    t.file("opt/new", "added next to whiteouts\n", mtime=T + 5)
    t.file(".wh.rootfile", mtime=T + 6)
    return t.end()


def case_opaque():
    t = Tar(PAX)
    t.dir("var/", mtime=T)
    t.dir("var/cache/", mode=0o750, mtime=T + 1)
    t.file("var/cache/keep-before", "unpacked before the opaque marker\n", mtime=T + 2)
    t.file("var/cache/.wh..wh..opq", mtime=T + 3)
    t.file("var/cache/after", "after the marker\n", mtime=T + 4)
    t.dir("var/cache/sub/", mtime=T + 5)
    t.dir("newopq/", mtime=T + 6)
    t.file("newopq/.wh..wh..opq", mtime=T + 7)
    t.file("newopq/x", "x\n", mtime=T + 8)
    return t.end()


def case_whiteout_meta_names():
    t = Tar(PAX)
    t.file(".wh..wh.foo", uid=3, gid=4, mtime=T)  # whiteout of ".wh.foo" at the root
    t.dir("wm/", mtime=T + 1)
    t.file("wm/.wh..wh.bar", mtime=T + 2)  # whiteout of "wm/.wh.bar"
    t.file("wm/plain", "p\n", mtime=T + 3)
    return t.end()


def case_implicit_parents():
    t = Tar(PAX)
    t.file("ip/a/b/c/file", "no headers for ip, ip/a, ip/a/b, ip/a/b/c\n", mode=0o600,
           mtime=T + 1)
    t.file("ip2/x", "x\n", mtime=T + 2)
    return t.end()


def case_bottom_layer():
    """Applied with no parent: naive whiteouts, no markers written."""
    t = Tar(PAX)
    t.dir("bl/", mtime=T)
    t.file("bl/removed-later", "whited out later in the same layer\n", mtime=T + 1)
    t.file("bl/.wh.removed-later", mtime=T + 2)
    t.file("bl/.wh.never-existed", mtime=T + 3)
    t.dir("bl/opq/", mtime=T + 4)
    t.file("bl/opq/before", "unpacked before the opaque marker: stays\n", mtime=T + 5)
    t.file("bl/opq/.wh..wh..opq", mtime=T + 6)
    t.file("bl/opq/after", "after\n", mtime=T + 7)
    t.file(".wh..wh.meta", mtime=T + 8)
    t.file("bl/file", "plain\n", mtime=T + 9)
    return t.end()


def case_lower_dirs_explicit():
    """Writes into directories that exist in the base, each with an explicit header."""
    t = Tar(PAX)
    t.dir("etc/", mtime=T)
    t.file("etc/hosts", "replaced hosts\n", mtime=T + 1)
    t.file("etc/new.conf", "new\n", mtime=T + 2)
    t.dir("home/", mtime=T + 3)
    t.dir("home/user/", mode=0o750, uid=1000, gid=1000, mtime=T + 4)
    t.file("home/user/.bashrc", "alias x=y\n", uid=1000, gid=1000, mtime=T + 5)
    t.dir("lib/", mtime=T + 6)  # replaces the base symlink lib -> usr/lib with a directory
    t.file("lib/extra.so", "extra\n", mtime=T + 7)
    t.dir("tmp/", mode=0o1777, mtime=T + 8)
    t.file("tmp/scratch", "s\n", mtime=T + 9)
    return t.end()


def case_trailing_bytes():
    t = Tar(PAX)
    t.dir("tb/", mtime=T)
    t.file("tb/file", "the stream goes on after the end-of-archive marker\n", mtime=T + 1)
    return t.end(trailing=randbytes(3000, 6) + b"\0" * 1000)


def case_gzip_multi_member():
    t = Tar(PAX)
    t.dir("gzmm/", mtime=T)
    t.file("gzmm/one", pattern(20000, 7), mtime=T + 1)
    t.file("gzmm/two", "second member carries this\n", mtime=T + 2)
    return t.end()


def case_zstd_multi_frame():
    t = Tar(PAX)
    t.dir("zsmf/", mtime=T)
    t.file("zsmf/one", pattern(30000, 8), mtime=T + 1)
    t.file("zsmf/two", "second frame carries this\n", mtime=T + 2)
    return t.end()


def case_zstd_single():
    t = Tar(PAX)
    t.dir("zs/", mtime=T)
    t.file("zs/file", "zstd single frame\n", mtime=T + 1)
    return t.end()


def case_uncompressed():
    t = Tar(PAX)
    t.dir("plain/", mtime=T)
    t.file("plain/file", "uncompressed layer\n", mtime=T + 1)
    t.symlink("plain/link", "file", mtime=T + 2)
    return t.end()


def case_docker_media_type():
    t = Tar(GNU)
    t.dir("docker/", mtime=T)
    t.file("docker/file", "docker rootfs.diff.tar.gzip media type\n", mtime=T + 1)
    return t.end()


def case_hostile_dotdot():
    t = Tar(PAX)
    t.file("../escape1", "confined to the root\n", mtime=T + 1)
    t.file("../../escape2", "confined to the root\n", mtime=T + 2)
    t.file("/abs/file", "absolute name\n", mtime=T + 3)
    t.file("a/../../escape3", "cleaned to ../escape3\n", mtime=T + 4)
    t.file("./../escape4", "confined\n", mtime=T + 5)
    return t.end()


def case_hostile_symlink_parent():
    t = Tar(PAX)
    t.symlink("evil", "../../../../tripwire-dir", mtime=T + 1)
    t.file("evil/x", "must land in ROOT/tripwire-dir/x\n", mtime=T + 2)
    return t.end()


def case_hostile_root_symlink():
    t = Tar(PAX)
    t.symlink("root", "/", mtime=T + 1)
    t.file("root/tripwire-dir/y", "must land in ROOT/tripwire-dir/y\n", mtime=T + 2)
    return t.end()


def case_hostile_hardlink():
    t = Tar(PAX)
    t.file("tripwire-file", "inside the layer\n", mode=0o600, mtime=T + 1)
    t.hardlink("hl-escape", "../../tripwire-file", mode=0o600, mtime=T + 1)
    t.hardlink("hl-abs", "/tripwire-file", mode=0o600, mtime=T + 1)
    return t.end()


# --------------------------------------------------------------------------------------------
# error cases
# --------------------------------------------------------------------------------------------

def simple_tar(tag, n=3, size=5000):
    t = Tar(PAX)
    t.dir(tag + "/", mtime=T)
    for i in range(n):
        t.file("%s/f%d" % (tag, i), pattern(size + i, 100 + i), mtime=T + 1 + i)
    return t


def err_gzip_truncated():
    tar = simple_tar("egt").end()
    g = gz(tar)
    return tar, g[: len(g) * 6 // 10]


def err_gzip_crc():
    tar = simple_tar("egc").end()
    g = bytearray(gz(tar))
    g[-8] ^= 0xFF  # first byte of CRC-32 in the trailer
    return tar, bytes(g)


def err_gzip_deflate_corrupt():
    tar = simple_tar("egd", n=4, size=20000).end()
    half = len(tar) // 2
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(tar[:half]) + c.flush(zlib.Z_FULL_FLUSH)
    cut = len(body)  # a new deflate block starts at this byte boundary
    body += c.compress(tar[half:]) + c.flush()
    body = bytearray(body)
    body[cut] |= 0b110  # BTYPE=11: reserved block type -> invalid
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", zlib.crc32(tar), len(tar) & 0xFFFFFFFF)
    return tar, header + bytes(body) + trailer


def err_gzip_trailing_garbage():
    tar = simple_tar("egg").end()
    return tar, gz(tar) + b"this is not a gzip member\n" * 4


def err_zstd_truncated():
    tar = simple_tar("ezt", size=20000).end()
    z = zstd(tar)
    return tar, z[: len(z) * 6 // 10]


def err_zstd_corrupt():
    tar = simple_tar("ezc", size=20000).end()
    half = len(tar) // 2
    f1, f2 = zstd(tar[:half]), bytearray(zstd(tar[half:]))
    off = zstd_block_header_offset(bytes(f2))
    f2[off] |= 0b110  # Block_Type=3: reserved -> corruption
    return tar, f1 + bytes(f2)


def err_tar_bad_checksum():
    t = Tar(USTAR)
    t.dir("ebc/", mtime=T)
    d = b"second header has a wrong checksum\n"
    t.raw_entry(raw_header("ebc/bad", b"0", size=len(d), mtime=T + 1, checksum_delta=1), d)
    t.file("ebc/after", "a\n", mtime=T + 2)
    tar = t.end()
    return tar, gz(tar)


def err_tar_truncated_data():
    t = simple_tar("etd", n=2, size=5000)
    tar = t.unterminated()
    cut = 512 + 512 + 2000  # dir header, file header, 2000 of 5000 data bytes
    return tar[:cut], gz(tar[:cut])


def err_tar_truncated_header():
    t = simple_tar("eth", n=1, size=100)
    t.file("eth/next", "never reached\n", mtime=T + 5)
    tar = t.unterminated()
    cut = 512 + 512 + 512 + 200  # 200 bytes into the third header
    return tar[:cut], gz(tar[:cut])


def err_gnu_sparse():
    t = Tar(GNU)
    t.dir("egs/", mtime=T)
    data = b"A" * 512 + b"B" * 512
    sparse = bytearray()
    for off, n in ((0, 512), (4096, 512)):
        sparse += octal(off, 12) + octal(n, 12)
    extra = {386: bytes(sparse), 482: b"\0", 483: octal(8192, 12)}
    t.raw_entry(raw_header("egs/sparse", b"S", size=len(data), mtime=T + 1, magic="gnu",
                           extra=extra), data)
    tar = t.end()
    return tar, gz(tar)


def err_unknown_typeflag():
    t = Tar(USTAR)
    t.dir("eut/", mtime=T)
    t.raw_entry(raw_header("eut/zed", b"Z", size=5, mtime=T + 1), b"zzzzz")
    tar = t.end()
    return tar, gz(tar)


def err_gnu_dumpdir():
    t = Tar(GNU)
    t.dir("egd/", mtime=T)
    data = b"Yfile1\0Nfile2\0\0"
    t.raw_entry(raw_header("egd/dumpdir/", b"D", size=len(data), mode=0o755, mtime=T + 1,
                           magic="gnu"), data)
    tar = t.end()
    return tar, gz(tar)


def err_whiteout_dotdot():
    t = Tar(PAX)
    t.dir("ewd/", mtime=T)
    t.file("ewd/.wh..", mtime=T + 1)
    tar = t.end()
    return tar, gz(tar)


def err_whiteout_dotdotdot():
    t = Tar(PAX)
    t.dir("ewdd/", mtime=T)
    t.file("ewdd/.wh...", mtime=T + 1)
    tar = t.end()
    return tar, gz(tar)


def err_zstd_declared_gzip():
    tar = simple_tar("ezg", n=1, size=100).end()
    return tar, zstd(tar)


def err_hardlink_missing_target():
    t = Tar(PAX)
    t.dir("ehm/", mtime=T)
    t.hardlink("ehm/link", "ehm/does-not-exist", mtime=T + 1)
    tar = t.end()
    return tar, gz(tar)


# --------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.stderr.write("usage: make-layers.py OUTDIR\n")
        return 2
    out = sys.argv[1]
    blobs = os.path.join(out, "blobs")
    if os.path.isdir(blobs):
        shutil.rmtree(blobs)
    os.makedirs(blobs)

    def write(name, data):
        with open(os.path.join(blobs, name), "wb") as f:
            f.write(data)
        return "blobs/" + name

    base_tar = base_layer()
    base_blob = write("base.tar.gz", gz(base_tar))
    base_diff = sha256(base_tar)

    cases = []
    seen_diffs = {base_diff: "base"}

    def ok(name, tar, desc, media=GZ, blob=None, ext=None, base=True, ignore_mtime=()):
        if blob is None:
            blob = {GZ: gz, DOCKER_GZ: gz, ZST: zstd, TAR: lambda b: b}[media](tar)
        if ext is None:
            ext = {GZ: ".tar.gz", DOCKER_GZ: ".tar.gz", ZST: ".tar.zst", TAR: ".tar"}[media]
        d = sha256(tar)
        assert d not in seen_diffs, "%s has the same diffID as %s" % (name, seen_diffs[d])
        seen_diffs[d] = name
        cases.append({
            "name": name,
            "blob": write(name + ext, blob),
            "mediaType": media,
            "base": base_blob if base else None,
            "baseMediaType": GZ if base else None,
            "expect": "ok",
            "description": desc,
            "diffID": d,
            "baseDiffID": base_diff if base else None,
            "ignoreMtime": list(ignore_mtime),
        })

    def err(name, fn, substring, desc, media=GZ, ext=".tar.gz"):
        tar, blob = fn()
        cases.append({
            "name": name,
            "blob": write(name + ext, blob),
            "mediaType": media,
            "base": base_blob,
            "baseMediaType": GZ,
            "expect": {"error": substring},
            "description": desc,
            "diffID": sha256(tar),
            "baseDiffID": base_diff,
            "ignoreMtime": [],
        })

    ok("files", case_files(),
       "GNU-format regular files: empty, small, 1000 bytes, exactly 512, exactly 1 MiB, "
       "2 MiB + 12345 (several 1 MiB buffers), 70001 random bytes, UTF-8 and whitespace names, "
       "9 MiB + 4321 setuid (written with direct I/O)")
    ok("directories", case_directories(),
       "nested directories, an empty directory, a 0700 directory owned by 1000:1000, a "
       "directory entry without trailing slash")
    ok("symlinks", case_symlinks(),
       "symlinks: relative, absolute, dangling, to a directory, owned by 1234:5678 (lchown), "
       "self-loop, ../.. chain, header mode 0755 (ignored), 100-byte target")
    ok("hardlinks", case_hardlinks(),
       "hardlinks to files in the same layer: three links to one inode (one via a link), a "
       "link header whose mode/uid/gid/mtime differ from the target's, a link named ./hl/exec")
    ok("hardlink-to-symlink", case_hardlink_to_symlink(),
       "a hardlink whose target is a symlink links the symlink itself, not what it points to "
       "(header mode 0600)")
    ok("devices", case_devices(),
       "ustar char and block devices (incl. 259:65537), fifos, owners; a c 0:0 that is NOT a "
       "whiteout (uid 3, mode 0644)")
    ok("modes", case_modes(),
       "setuid/setgid/sticky bits on files, dirs and a fifo; 7777, 0000, 0741; setuid on a "
       "non-root file (chown before chmod); 0600 and 0000 directories with children")
    ok("owners", case_owners(),
       "ustar uid/gid values incl. 65534 and 2097151 (largest octal); uname/gname are ignored "
       "(numeric ids win); symlink owner")
    ok("format-ustar", case_format_ustar(),
       "POSIX ustar: names split into the prefix field, a 100-byte name and a 100-byte "
       "linkname with no NUL terminator")
    ok("format-gnu", case_format_gnu(),
       "GNU: ././@LongLink 'L' names (>100, >255), 'K' long symlink and hardlink names, "
       "base-256 uid/gid above 2097151")
    ok("format-pax", case_format_pax(),
       "PAX: long path and linkpath records, nanosecond mtime on file/dir/symlink, uid/gid "
       "4000000000, UTF-8 path, atime/ctime records")
    ok("times", case_times(),
       "mtime 0, pre-1970 (PAX -86400), 2^31, 2100, after 2262 (PAX 1e10) and a GNU base-256 "
       "negative mtime; containerd stores 0 for times before 1970 or after 2262")
    ok("pax-xattrs", case_pax_xattrs(),
       "SCHILY.xattr records: user.* (binary, empty, 3000 bytes) and security.* on files and "
       "dirs, a security.capability v2 blob, trusted.* records (must not be applied), user.* "
       "on a fifo, a symlink and a device (not applied), security.* on a symlink and a device, "
       "a 5 MiB file with security.capability (written with direct I/O)")
    ok("pax-global-header", case_pax_global_header(),
       "PAX global headers ('g') at the start and mid-stream carrying uid/gid/mtime/path/xattr "
       "records: all ignored")
    ok("v7-nul-typeflag", case_v7_nul_typeflag(),
       "old V7 headers (no magic) and ustar headers with typeflag NUL: regular files, and "
       "directories when the name ends in '/'")
    ok("format-odd", case_format_odd(),
       "headers read as Go reads them: star (131-byte prefix filled to the end, access and "
       "change times), POSIX magic with version '01', a pre-Go-1.8 GNU header with a prefix "
       "where the times belong, a GNU header with an access time")
    ok("dir-after-children", case_dir_after_children(),
       "directory headers after their children: parents created implicitly, then the "
       "headers' mode/owner applied and their mtimes set at the end")
    ok("same-path-twice", case_same_path_twice(),
       "one path twice in a layer: file->file, file->dir, dir->file (the dir header's times "
       "are re-applied at the end), dir merged with dir (xattrs of both, metadata of the "
       "second), symlink->file, file->symlink")
    ok("names-dot-slash", case_names_dot_slash(),
       "entries './', '.' and '/' (skipped: root metadata never comes from the archive), "
       "names with leading './' and '/', '//' and 'x/..' in names")
    ok("whiteouts", case_whiteouts(),
       "whiteouts of a base file, dir and symlink, of a name the base lacks, of a root-level "
       "base file; whiteout headers with uid/gid (overlay: c 0:0 owned by those ids)")
    ok("opaque", case_opaque(),
       "opaque marker in a base directory (after a file unpacked in the same layer, which "
       "stays) and in a new directory; overlay: trusted.overlay.opaque=y")
    ok("whiteout-meta-names", case_whiteout_meta_names(),
       "'.wh..wh.foo' at the root and in a directory: ordinary whiteouts of '.wh.foo'")
    ok("implicit-parents", case_implicit_parents(),
       "entries whose parents have no headers and are not in the base: created 0755 root:root",
       ignore_mtime=["ip", "ip/a", "ip/a/b", "ip/a/b/c", "ip2"])
    ok("lower-dirs-explicit", case_lower_dirs_explicit(),
       "writes into base directories (each with an explicit header), replaces a base file, "
       "replaces the base symlink lib -> usr/lib with a directory")
    ok("bottom-layer", case_bottom_layer(),
       "no base: this is the bottom layer, so whiteouts and opaque markers are applied by "
       "deleting (naive), never written as markers", base=False)
    ok("trailing-bytes", case_trailing_bytes(),
       "4000 bytes (random, then zeros) after the end-of-archive marker; part of the diffID")
    tar = case_gzip_multi_member()
    ok("gzip-multi-member", tar,
       "the tar gzip-compressed as two members split at byte 1234 (mid-header)",
       blob=gz(tar[:1234]) + gz(tar[1234:]))
    tar = case_zstd_multi_frame()
    ok("zstd-multi-frame", tar, "the tar zstd-compressed as three frames", media=ZST,
       blob=zstd(tar[:700]) + zstd(tar[700:20000]) + zstd(tar[20000:]))
    ok("zstd", case_zstd_single(), "zstd, a single frame", media=ZST)
    ok("uncompressed", case_uncompressed(), "media type application/vnd.oci.image.layer.v1.tar",
       media=TAR)
    ok("docker-media-type", case_docker_media_type(),
       "Docker media type application/vnd.docker.image.rootfs.diff.tar.gzip", media=DOCKER_GZ)
    ok("hostile-dotdot", case_hostile_dotdot(),
       "'../escape1', '../../escape2', '/abs/file', 'a/../../escape3', './../escape4': all land "
       "inside the root", ignore_mtime=["abs"])
    ok("hostile-symlink-parent", case_hostile_symlink_parent(),
       "symlink evil -> ../../../../tripwire-dir then evil/x: the parent resolves inside the "
       "root (ROOT/tripwire-dir/x), nothing next to the root", ignore_mtime=["tripwire-dir"])
    ok("hostile-root-symlink", case_hostile_root_symlink(),
       "symlink root -> / then root/tripwire-dir/y: lands at ROOT/tripwire-dir/y",
       ignore_mtime=["tripwire-dir"])
    ok("hostile-hardlink", case_hostile_hardlink(),
       "hardlinks named '../../tripwire-file' and '/tripwire-file' link to ROOT/tripwire-file "
       "(a file of this layer), never to the sibling outside the root")

    err("err-gzip-truncated", err_gzip_truncated, "truncated",
        "gzip stream cut at 60%")
    err("err-gzip-crc", err_gzip_crc, "checksum",
        "gzip trailer CRC-32 corrupted (data inflates fine)")
    err("err-gzip-deflate-corrupt", err_gzip_deflate_corrupt, "corrupt",
        "deflate body corrupted mid-stream: a block with the reserved type 3 after a full flush")
    err("err-gzip-trailing-garbage", err_gzip_trailing_garbage, "trailing data",
        "a complete gzip member followed by non-gzip bytes")
    err("err-zstd-truncated", err_zstd_truncated, "truncated", "zstd frame cut at 60%",
        media=ZST, ext=".tar.zst")
    err("err-zstd-corrupt", err_zstd_corrupt, "corrupt",
        "two zstd frames, the second's first block has the reserved block type", media=ZST,
        ext=".tar.zst")
    err("err-tar-bad-checksum", err_tar_bad_checksum, "header checksum",
        "second tar header's checksum is off by one")
    err("err-tar-truncated-data", err_tar_truncated_data, "truncated",
        "tar (complete gzip) ends 2000 bytes into a 5000-byte file's data")
    err("err-tar-truncated-header", err_tar_truncated_header, "truncated",
        "tar (complete gzip) ends 200 bytes into a header")
    err("err-gnu-sparse", err_gnu_sparse, "sparse", "GNU old-style sparse entry (typeflag 'S')")
    err("err-unknown-typeflag", err_unknown_typeflag, "unsupported entry type",
        "unknown typeflag 'Z'")
    err("err-gnu-dumpdir", err_gnu_dumpdir, "unsupported entry type",
        "GNU dumpdir entry (typeflag 'D')")
    err("err-whiteout-dotdot", err_whiteout_dotdot, "invalid whiteout",
        "whiteout named '.wh..' (would remove its own directory)")
    err("err-whiteout-dotdotdot", err_whiteout_dotdotdot, "invalid whiteout",
        "whiteout named '.wh...' (would remove the parent directory)")
    err("err-zstd-declared-gzip", err_zstd_declared_gzip, "media type",
        "media type says gzip, bytes are zstd; the message should name both", media=GZ,
        ext=".tar.gz")
    err("err-hardlink-missing-target", err_hardlink_missing_target, "hardlink target",
        "hardlink to a path that exists nowhere in the layer")

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(blobs, n)) for n in os.listdir(blobs))
    print("wrote %d cases, %d blobs, %d bytes to %s" % (len(cases), len(os.listdir(blobs)),
                                                      total, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
