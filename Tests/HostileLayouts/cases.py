"""Hostile-input cases for decant pull (run by run.py). Each case: (name, expect, description, build, check).

expect: 'fail'  -> the pull must fail cleanly
        'ok'    -> the pull must succeed (check() inspects the unpacked layers)
        'either'-> may fail or succeed, but must be contained/clean (check() if it succeeded)
build() returns dict(layers=[Layer...], extra_diff_ids=[...], config_override=fn,
manifest_override=fn) for write_layout.
check(dirs) returns a list of problems (strings) given the layer directories (bottom first).
"""
import os
import stat

import tarlib as t
from tarlib import Layer

# A tree outside the store that no layer may change; run.py sets where (it must be absolute).
TRIP = os.environ["DECANT_HOSTILE_TRIPWIRE"]
# The snapshotter run.py pulls with: overlay (the default) gives each layer a directory of its
# changes, native each layer's whole tree.
NATIVE = os.environ.get("DECANT_HOSTILE_SNAPSHOTTER") == "native"
UP = "../" * 24  # enough to reach / from any snapshot fs dir under the work directory


def one(*entries, compress="gzip", **kw):
    return dict(layers=[Layer(t.tar(*entries), compress=compress, **kw)])


def base_entries():
    return [t.dir("etc/"), t.file("etc/hello", "hello\n")]


def lst(d):
    out = []
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), d))
    return sorted(out)


def exists_in(dirs, rel):
    return any(os.path.lexists(os.path.join(d, rel)) for d in dirs)


CASES = []


def case(name, expect, desc):
    def deco(fn):
        CASES.append((name, expect, desc, fn, getattr(fn, "check", None)))
        return fn
    return deco


def with_check(chk):
    def deco(fn):
        fn.check = chk
        return fn
    return deco


# ---------------------------------------------------------------- 1. path traversal
@case("trav-dotdot", "either", "file ../pwned_dotdot")
def _():
    return one(t.file("../pwned_dotdot", "x"))


@case("trav-abs", "either", "file /pwned_abs")
def _():
    return one(t.file("/pwned_abs", "x"))


@case("trav-a-dotdot", "either", "file a/../../pwned_a")
def _():
    return one(t.file("a/../../pwned_a", "x"))


@case("trav-deep-dotdot", "either", "file ../../..(x12)TRIP/pwned_deep")
def _():
    return one(t.file(UP + TRIP.lstrip("/") + "/pwned_deep", "x"))


@case("hl-etc-passwd", "either", "hardlink h -> ../(x12)etc/passwd")
def _():
    return one(t.hardlink("h", UP + "etc/passwd"))


@case("hl-abs-tripwire", "either", "hardlink h -> TRIP/t")
def _():
    return one(t.hardlink("h", TRIP + "/t"))


@case("sym-trip-dir-write", "either", "symlink evil -> TRIP, then evil/t and evil/pwned_sym")
def _():
    return one(t.symlink("evil", TRIP), t.file("evil/t", "PWNED"), t.file("evil/pwned_sym", "x"))


@case("sym-etc-write", "either", "symlink evil -> /etc, then evil/passwd (must not touch /etc)")
def _():
    return one(t.symlink("evil", "/etc"), t.file("evil/passwd", "pwned::0:0::/:/bin/sh\n"))


@case("sym-rel-escape", "either", "symlink evil -> ../(x12)TRIP, then evil/pwned_rel")
def _():
    return one(t.symlink("evil", UP + TRIP.lstrip("/")), t.file("evil/pwned_rel", "x"))


@case("sym-dotdot-chain", "either", "symlink up -> .., then up/up/pwned_up")
def _():
    return one(t.symlink("up", ".."), t.file("up/up/pwned_up", "x"))


def chk_inner(dirs):
    d = dirs[-1]
    p = []
    if not os.path.isfile(os.path.join(d, "real/f")):
        p.append("real/f missing; tree=%s" % lst(d))
    if not os.path.islink(os.path.join(d, "link")):
        p.append("link is not a symlink")
    return p


@case("sym-inner-dir", "ok", "dir real/, symlink link -> real, file link/f (lands in real/f)")
@with_check(chk_inner)
def _():
    return one(t.dir("real/"), t.symlink("link", "real"), t.file("link/f", "f"))


def chk_hl_sym(dirs):
    d = dirs[-1]
    p = []
    h = os.path.join(d, "h")
    if os.path.lexists(h):
        st = os.lstat(h)
        if not stat.S_ISLNK(st.st_mode):
            p.append("h is not a symlink (mode %o): hardlink followed the symlink" % st.st_mode)
        elif os.readlink(h) != TRIP + "/t":
            p.append("h -> %s" % os.readlink(h))
        if os.lstat(os.path.join(d, "s")).st_ino != st.st_ino:
            p.append("h is not the same inode as s")
    return p


@case("hl-to-symlink", "ok", "symlink s -> TRIP/t, hardlink h -> s (h must be the symlink itself)")
@with_check(chk_hl_sym)
def _():
    return one(t.symlink("s", TRIP + "/t"), t.hardlink("h", "s"))


@case("hl-to-symlink-etc", "ok", "symlink s -> /etc/passwd, hardlink h -> s")
@with_check(lambda dirs: [x.replace(TRIP + "/t", "/etc/passwd") for x in chk_hl_sym(dirs)
                          if "h -> /etc/passwd" not in x])
def _():
    return one(t.symlink("s", "/etc/passwd"), t.hardlink("h", "s"))


@case("hl-through-sym", "either", "symlink evil -> TRIP, hardlink h -> evil/t")
def _():
    return one(t.symlink("evil", TRIP), t.hardlink("h", "evil/t"))


def chk_sym_replaced(dirs):
    d = dirs[-1]
    p = os.path.join(d, "evil")
    if os.path.islink(p) or not os.path.isfile(p) or open(p).read() != "PWNED":
        return ["evil is not the new regular file"]
    return []


@case("file-over-symlink", "ok", "symlink evil -> TRIP/t, then regular file evil (replaces link)")
@with_check(chk_sym_replaced)
def _():
    return one(t.symlink("evil", TRIP + "/t"), t.file("evil", "PWNED"))


def chk_dir_over_sym(dirs):
    d = dirs[-1]
    p = os.path.join(d, "evil")
    if os.path.islink(p) or not os.path.isdir(p):
        return ["evil is not a directory"]
    if not os.path.isfile(os.path.join(p, "pwned_dirsym")):
        return ["evil/pwned_dirsym missing"]
    return []


@case("dir-over-symlink", "ok", "symlink evil -> TRIP/d, dir evil/, file evil/pwned_dirsym")
@with_check(chk_dir_over_sym)
def _():
    return one(t.symlink("evil", TRIP + "/d"), t.dir("evil/"), t.file("evil/pwned_dirsym", "x"))


@case("sym-meta-follow", "ok", "symlink with mode/mtime/user xattr pointing at TRIP/t (must not chmod/utime/setxattr target)")
def _():
    return one(t.pax([("SCHILY.xattr.user.pwned", "1"), ("mtime", "12345")]),
               t.symlink("evil", TRIP + "/t"))


def chk_hl_overwrite(dirs):
    d = dirs[-1]
    a = open(os.path.join(d, "a")).read()
    b = open(os.path.join(d, "b")).read()
    p = []
    if a != "new":
        p.append("a=%r (want 'new')" % a)
    if b != "orig":
        p.append("b=%r (want 'orig' as containerd: a is unlinked and recreated, b keeps the old inode)" % b)
    return p


@case("hl-then-overwrite", "ok", "file a 'orig', hardlink b -> a, file a 'new'")
@with_check(chk_hl_overwrite)
def _():
    return one(t.file("a", "orig"), t.hardlink("b", "a"), t.file("a", "new"))


@case("sym-loop", "either", "a -> b, b -> a, file a/x")
def _():
    return one(t.symlink("a", "b"), t.symlink("b", "a"), t.file("a/x", "x"))


@case("sym-named-dot", "either", "symlink '.' -> TRIP, then file pwned_root")
def _():
    return one(t.symlink(".", TRIP), t.file("pwned_root", "x"))


@case("sym-named-dotslash", "either", "symlink './' -> TRIP, then file pwned_root2")
def _():
    return one(t.symlink("./", TRIP), t.file("pwned_root2", "x"))


@case("file-named-dot", "either", "regular file '.'")
def _():
    return one(t.file(".", "x"))


@case("empty-name", "either", "regular file with empty name")
def _():
    return one(t.file("", "x"))


@case("hl-self", "either", "hardlink a -> a")
def _():
    return one(t.hardlink("a", "a"))


@case("hl-missing", "fail", "hardlink h -> nonexistent")
def _():
    return one(t.hardlink("h", "nonexistent"))


@case("hl-to-dir", "fail", "dir d/, hardlink h -> d")
def _():
    return one(t.dir("d/"), t.hardlink("h", "d"))


@case("hl-dotdot-target-in-layer", "either", "file x, hardlink h -> ../x (cleaned to x inside)")
def _():
    return one(t.file("x", "x"), t.hardlink("h", "../x"))


# ---------------------------------------------------------------- 2. compression / digests
BIG = t.tar(*(t.file("f%03d" % i, os.urandom(2000).hex()) for i in range(60)))


def trunc_layer(comp, frac):
    full = t.gz(BIG) if comp == "gzip" else t.zst(BIG)
    cut = full[:int(len(full) * frac)] if frac < 1 else full[:frac]
    return dict(layers=[Layer(BIG, compress=comp, blob=cut)])  # digest/size over cut, diff_id full


@case("gz-trunc-60", "fail", "gzip cut at 60% (digest/size of cut bytes)")
def _():
    return trunc_layer("gzip", 0.6)


@case("gz-trunc-5B", "fail", "gzip cut to 5 bytes")
def _():
    return trunc_layer("gzip", 5)


@case("gz-trunc-no-trailer", "fail", "gzip missing its 8-byte trailer")
def _():
    full = t.gz(BIG)
    return dict(layers=[Layer(BIG, compress="gzip", blob=full[:-8])])


@case("zst-trunc-60", "fail", "zstd cut at 60%")
def _():
    return trunc_layer("zstd", 0.6)


@case("zst-trunc-4B", "fail", "zstd magic only")
def _():
    return trunc_layer("zstd", 4)


@case("zst-trunc-last3", "fail", "zstd minus its last 3 bytes")
def _():
    full = t.zst(BIG)
    return dict(layers=[Layer(BIG, compress="zstd", blob=full[:-3])])


@case("gz-corrupt-mid", "fail", "gzip with 16 bytes flipped in the middle (digest recomputed)")
def _():
    b = bytearray(t.gz(BIG))
    m = len(b) // 2
    for i in range(m, m + 16):
        b[i] ^= 0xFF
    return dict(layers=[Layer(BIG, compress="gzip", blob=bytes(b))])


@case("gz-bad-crc", "either", "gzip CRC32 trailer wrong (inflated bytes and diff_id right)")
def _():
    b = bytearray(t.gz(BIG))
    b[-8] ^= 0xFF
    return dict(layers=[Layer(BIG, compress="gzip", blob=bytes(b))])


@case("gz-bad-isize", "either", "gzip ISIZE trailer wrong (inflated bytes and diff_id right)")
def _():
    b = bytearray(t.gz(BIG))
    b[-1] ^= 0x01
    return dict(layers=[Layer(BIG, compress="gzip", blob=bytes(b))])


@case("zst-corrupt-mid", "fail", "zstd with 16 bytes flipped in the middle")
def _():
    b = bytearray(t.zst(BIG))
    m = len(b) // 2
    for i in range(m, m + 16):
        b[i] ^= 0xFF
    return dict(layers=[Layer(BIG, compress="zstd", blob=bytes(b))])


@case("blob-digest-mismatch", "fail", "blob bytes differ from the descriptor digest (same size)")
def _():
    full = t.gz(BIG)
    bad = bytearray(full)
    bad[100] ^= 1
    return dict(layers=[Layer(BIG, compress="gzip", blob=bytes(bad), desc_digest=t.sha(full))])


@case("wrong-diffid", "fail", "config diff_id is not the tar's digest")
def _():
    return dict(layers=[Layer(BIG, diff_id=t.sha(b"something else"))])


@case("blob-shorter-than-desc", "fail", "descriptor size = blob size + 100")
def _():
    full = t.gz(BIG)
    return dict(layers=[Layer(BIG, blob=full, desc_size=len(full) + 100)])


@case("blob-longer-than-desc", "fail", "descriptor size = blob size - 10 (digest of the whole blob)")
def _():
    full = t.gz(BIG)
    return dict(layers=[Layer(BIG, blob=full, desc_size=len(full) - 10)])


@case("blob-file-has-extra", "fail", "file at the digest path = blob + 100 junk bytes; descriptor = the real blob's digest/size")
def _():
    full = t.gz(BIG)
    l = Layer(BIG, blob=full + os.urandom(100), desc_digest=t.sha(full), desc_size=len(full))
    return dict(layers=[l])


@case("blob-missing", "fail", "layer blob not in blobs/")
def _():
    return dict(layers=[Layer(BIG, write_blob=False)])


@case("tar-trunc-in-data", "fail", "uncompressed tar cut inside a file's data (digest & diff_id over cut bytes)")
def _():
    cut = BIG[:512 * 7 + 100]
    return dict(layers=[Layer(cut, compress="none")])


@case("gz-of-trunc-tar", "fail", "gzip of a tar cut inside a file's data (diff_id over cut bytes)")
def _():
    cut = BIG[:512 * 7 + 100]
    return dict(layers=[Layer(cut, compress="gzip")])


@case("tar-trunc-in-header", "fail", "tar cut inside a header (diff_id over cut bytes)")
def _():
    cut = BIG[:len(t.file('f000', 'x' * 4000)) + 200]
    return dict(layers=[Layer(cut, compress="gzip")])


@case("tar-no-eof-blocks", "either", "valid entries, no end-of-archive blocks (containerd/Go accept)")
def _():
    return dict(layers=[Layer(t.tar(*base_entries(), eof=False))])


@case("tar-bad-checksum", "fail", "header checksum wrong")
def _():
    return dict(layers=[Layer(t.tar(t.header("x", size=0, bad_checksum=True)))])


@case("tar-empty-blob", "either", "0-byte uncompressed layer")
def _():
    return dict(layers=[Layer(b"", compress="none")])


@case("gz-of-empty", "either", "gzip of 0 bytes")
def _():
    return dict(layers=[Layer(b"", compress="gzip")])


@case("tar-garbage", "fail", "4 KiB of random bytes as a tar layer")
def _():
    return dict(layers=[Layer(os.urandom(4096), compress="none")])


@case("gz-garbage-inside", "fail", "valid gzip of random bytes (not a tar)")
def _():
    return dict(layers=[Layer(os.urandom(4096), compress="gzip")])


# ---------------------------------------------------------------- 3. tar oddities
@case("pax-huge-len", "fail", "PAX record length 99999999999999999999")
def _():
    return one(t.pax(None, raw=b"99999999999999999999 path=x\n"), t.file("y", "y"))


@case("pax-len-zero", "fail", "PAX record length 0 (infinite-loop bait)")
def _():
    return one(t.pax(None, raw=b"0 path=x\n"), t.file("y", "y"))


@case("pax-len-short", "fail", "PAX record length 3 for a longer record")
def _():
    return one(t.pax(None, raw=b"3 path=abcdef\n"), t.file("y", "y"))


@case("pax-no-equals", "fail", "PAX record without '='")
def _():
    return one(t.pax(None, raw=b"12 pathxyzw\n"), t.file("y", "y"))


@case("pax-negative-len", "fail", "PAX record length -5")
def _():
    return one(t.pax(None, raw=b"-5 path=x\n"), t.file("y", "y"))


@case("pax-header-size-8G", "fail", "PAX header entry size 077777777777 with only 512 bytes present")
def _():
    payload = t.pax_record("path", "x")
    h = t.header("././@PaxHeader", typ=b"x", size_raw=b"77777777777\0")
    return one(h + t.pad(payload))


@case("pax-size-huge", "fail", "PAX size=99999999999999999999999 on a file")
def _():
    return one(t.pax([("size", "99999999999999999999999")]), t.file("y", "y"))


@case("pax-size-negative", "fail", "PAX size=-1 on a file")
def _():
    return one(t.pax([("size", "-1")]), t.file("y", "y"))


@case("pax-size-8G", "fail", "PAX size=8589934592 on a file, stream ends")
def _():
    return one(t.pax([("size", "8589934592")]), t.file("y", "y"))


@case("pax-uid-huge", "either", "PAX uid=2^40 gid=-1")
def _():
    return one(t.pax([("uid", str(2 ** 40)), ("gid", "-1")]), t.file("y", "y"))


@case("pax-mtime-odd", "either", "PAX mtime=-1e30 / 1e400 / nan")
def _():
    return one(t.pax([("mtime", "-1e30")]), t.file("a", "a"),
               t.pax([("mtime", "1e400")]), t.file("b", "b"),
               t.pax([("mtime", "nan")]), t.file("c", "c"))


@case("pax-global", "either", "PAX global header 'g' with path=")
def _():
    return one(t.pax([("path", "pwned_global")], typ=b"g"), t.file("y", "y"))


@case("size-neg-base256", "fail", "size field base-256 negative (0xff..)")
def _():
    h = t.header("y", typ=b"0", size_raw=b"\xff" * 12)
    return one(h + b"y" * 512)


@case("size-huge-base256", "fail", "size field base-256 0x80 + 2^88-ish")
def _():
    h = t.header("y", typ=b"0", size_raw=b"\x80" + b"\x7f" + b"\xff" * 10)
    return one(h + b"y" * 512)


@case("size-absurd-octal", "fail", "size 77777777777 octal with 512 bytes of data")
def _():
    h = t.header("y", typ=b"0", size_raw=b"77777777777\0")
    return one(h + b"y" * 512)


@case("size-nonoctal", "fail", "size field 'abcdefghijk'")
def _():
    h = t.header("y", typ=b"0", size_raw=b"abcdefghijk\0")
    return one(h + b"y" * 512)


@case("size-89-digit", "fail", "size field '99999999999' (non-octal digits)")
def _():
    h = t.header("y", typ=b"0", size_raw=b"99999999999\0")
    return one(h + b"y" * 512)


@case("gnu-longname-5000", "either", "GNU 'L' name of 5000 bytes (25 components of 199)")
def _():
    name = "/".join(["n" * 199] * 25)
    return one(t.gnu_longname(name), t.file("ignored", "x"))


@case("gnu-longname-component-300", "either", "GNU 'L' single 300-byte component")
def _():
    return one(t.gnu_longname("c" * 300), t.file("ignored", "x"))


@case("gnu-longname-decl-1T", "fail", "GNU 'L' with declared size 2^40, stream ends")
def _():
    h = t.header("././@LongLink", typ=b"L", size_raw=b"\x80" + b"\0" * 5 + (2 ** 40).to_bytes(6, "big"))
    return one(h + b"a" * 512)


@case("gnu-longname-decl-8G-octal", "fail", "GNU 'L' with declared size 077777777777, stream ends")
def _():
    h = t.header("././@LongLink", typ=b"L", size_raw=b"77777777777\0")
    return one(h + b"a" * 512)


@case("gnu-longlink-16M", "either", "GNU 'K' link name of 16 MiB")
def _():
    return one(t.file("x", "x"), t.gnu_longname("x" * (16 << 20), typ=b"K"), t.symlink("s", "ignored"))


@case("deep-10k-implicit", "either", "one file 10000 directories deep (PAX path), parents implicit")
def _():
    return one(t.pax([("path", "a/" * 10000 + "f")]), t.file("ignored", "x"))


@case("deep-2500-explicit", "either", "2500 nested dirs each with its own entry (PAX paths)")
def _():
    ents = []
    for i in range(1, 2501):
        ents.append(t.pax([("path", "a/" * i)]))
        ents.append(t.dir("ignored/"))
    ents.append(t.pax([("path", "a/" * 2500 + "f")]))
    ents.append(t.file("ignored", "deep"))
    return one(*ents)


def chk_file_replaces_dir(dirs):
    d = dirs[-1]
    p = os.path.join(d, "d")
    if not os.path.isfile(p) or os.path.islink(p):
        return ["d is not a regular file: %s" % lst(d)]
    return []


@case("file-replaces-dir", "ok", "dir d/, file d/f, then regular file d")
@with_check(chk_file_replaces_dir)
def _():
    return one(t.dir("d/"), t.file("d/f", "f"), t.file("d", "now a file"))


@case("file-replaces-dir-then-child", "either", "dir d/, file d/f, file d, then d/g")
def _():
    return one(t.dir("d/"), t.file("d/f", "f"), t.file("d", "file"), t.file("d/g", "g"))


@case("dir-replaces-file", "ok", "file x, dir x/, file x/y")
@with_check(lambda dirs: [] if os.path.isfile(os.path.join(dirs[-1], "x/y")) else ["x/y missing"])
def _():
    return one(t.file("x", "x"), t.dir("x/"), t.file("x/y", "y"))


@case("wh-dotdot", "either", "whiteout '.wh...' (whiteout of ..)")
def _():
    return one(t.file(".wh...", ""))


@case("wh-dot", "either", "whiteout '.wh..' (whiteout of .)")
def _():
    return one(t.file(".wh..", ""))


@case("wh-empty", "either", "whiteout '.wh.' (empty name)")
def _():
    return one(t.file(".wh.", ""))


@case("wh-sub-dotdot", "either", "dir a/, whiteout 'a/.wh...'")
def _():
    return one(t.dir("a/"), t.file("a/.wh...", ""))


@case("wh-escape", "either", "whiteout '../.wh.pwned_wh' and '/../../.wh.pwned_wh2'")
def _():
    return one(t.file("../.wh.pwned_wh", ""), t.file("/../../.wh.pwned_wh2", ""))


@case("wh-through-symlink", "either", "symlink evil -> TRIP, whiteout evil/.wh.t and evil/.wh..wh..opq")
def _():
    return one(t.symlink("evil", TRIP), t.file("evil/.wh.t", ""), t.file("evil/.wh..wh..opq", ""))


@case("opq-root", "either", "'.wh..wh..opq' at the layer root")
def _():
    return one(t.file(".wh..wh..opq", ""), t.file("x", "x"))


@case("opq-missing-dir", "either", "'nope/.wh..wh..opq' with no nope/ entry")
def _():
    return one(t.file("nope/.wh..wh..opq", ""))


@case("wh-as-dir", "either", "directory '.wh.foo/' with child '.wh.foo/bar'")
def _():
    return one(t.dir(".wh.foo/"), t.file(".wh.foo/bar", "b"))


@case("wh-hardlink", "either", "file x, hardlink '.wh.y' -> x, symlink '.wh.z' -> /etc")
def _():
    return one(t.file("x", "x"), t.hardlink(".wh.y", "x"), t.symlink(".wh.z", "/etc"))


@case("wh-then-file", "either", "'.wh.x' then file x in the same layer")
def _():
    return one(t.file(".wh.x", ""), t.file("x", "x"))


@case("wh-meta-other", "either", "'.wh..wh.plnk' and '.wh..wh.foo'")
def _():
    return one(t.file(".wh..wh.plnk", ""), t.file(".wh..wh.foo", ""))


def chk_devices(dirs):
    d = dirs[-1]
    p = []
    exp = [("null", stat.S_ISCHR, 1, 3), ("sda", stat.S_ISBLK, 8, 0), ("wh", stat.S_ISCHR, 0, 0)]
    for n, fn, ma, mi in exp:
        st = os.lstat(os.path.join(d, "dev", n))
        if not fn(st.st_mode) or os.major(st.st_rdev) != ma or os.minor(st.st_rdev) != mi:
            p.append("dev/%s wrong: mode %o rdev %d:%d" % (n, st.st_mode, os.major(st.st_rdev), os.minor(st.st_rdev)))
    if not stat.S_ISFIFO(os.lstat(os.path.join(d, "p")).st_mode):
        p.append("p is not a fifo")
    for n, m in [("suid", 0o4755), ("sgid", 0o2755), ("sticky", 0o1777), ("suidsgid", 0o6711)]:
        got = stat.S_IMODE(os.lstat(os.path.join(d, n)).st_mode)
        if got != m:
            p.append("%s mode %o want %o" % (n, got, m))
    return p


@case("devices-modes", "ok", "char 1:3, block 8:0, char 0:0 (raw), fifo, setuid/setgid/sticky")
@with_check(chk_devices)
def _():
    return one(t.dir("dev/"), t.chardev("dev/null", 1, 3), t.blockdev("dev/sda", 8, 0),
               t.chardev("dev/wh", 0, 0), t.fifo("p"), t.file("suid", "s", mode=0o4755),
               t.dir("sgid/", mode=0o2755), t.dir("sticky/", mode=0o1777),
               t.file("suidsgid", "s", mode=0o6711, uid=1000, gid=1000))


def chk_xattr(dirs):
    d = dirs[-1]
    p = []
    f = os.path.join(d, "f")
    try:
        if os.getxattr(f, "user.foo") != b"bar":
            p.append("user.foo wrong")
    except OSError as e:
        p.append("user.foo missing: %s" % e)
    for path, key in [("o", "trusted.overlay.opaque"), ("r", "trusted.overlay.redirect"),
                      ("m", "trusted.overlay.metacopy"), ("f", "trusted.pwned")]:
        try:
            v = os.getxattr(os.path.join(d, path), key)
            p.append("%s has %s=%r taken from the layer" % (path, key, v))
        except OSError:
            pass
    return p


@case("xattrs", "ok", "user.foo honoured; trusted.overlay.opaque/redirect/metacopy, trusted.pwned NOT honoured")
@with_check(chk_xattr)
def _():
    return one(t.pax([("SCHILY.xattr.user.foo", "bar"), ("SCHILY.xattr.trusted.pwned", "1")]),
               t.file("f", "f"),
               t.pax([("SCHILY.xattr.trusted.overlay.opaque", "y")]), t.dir("o/"),
               t.pax([("SCHILY.xattr.trusted.overlay.redirect", "/etc")]), t.dir("r/"),
               t.pax([("SCHILY.xattr.trusted.overlay.metacopy", "")]), t.file("m", "m"))


@case("xattr-security-cap-garbage", "either", "security.capability = garbage bytes")
def _():
    return one(t.pax([("SCHILY.xattr.security.capability", "garbage")]), t.file("f", "f"))


@case("xattr-huge-value", "either", "user.big xattr of 70000 bytes")
def _():
    return one(t.pax([("SCHILY.xattr.user.big", "v" * 70000)]), t.file("f", "f"))


@case("xattr-empty-name", "either", "'SCHILY.xattr.' (empty name) and 'SCHILY.xattr.user.'")
def _():
    return one(t.pax([("SCHILY.xattr.", "v"), ("SCHILY.xattr.user.", "v")]), t.file("f", "f"))


@case("nul-pax-path", "either", "PAX path 'pwned_a\\0b'")
def _():
    return one(t.pax([("path", b"pwned_a\x00b")]), t.file("ignored", "x"))


@case("nul-gnu-longname", "either", "GNU 'L' name 'pwned_c\\0../../d'")
def _():
    return one(t.header("././@LongLink", size=16, typ=b"L") + t.pad(b"pwned_c\x00../../d\0"),
               t.file("ignored", "x"))


@case("nul-pax-linkpath", "either", "symlink with PAX linkpath '/etc\\0x' ")
def _():
    return one(t.pax([("linkpath", b"/etc\x00x")]), t.symlink("s", "ignored"))


@case("nul-pax-xattr-name", "either", "PAX 'SCHILY.xattr.user.a\\0b'")
def _():
    return one(t.pax([(b"SCHILY.xattr.user.a\x00b", "v")]), t.file("f", "f"))


@case("pax-invalid-utf8-path", "either", "PAX path with bytes \\xff\\xfe")
def _():
    return one(t.pax([("path", b"bad\xff\xfename")]), t.file("ignored", "x"))


@case("unknown-typeflag", "either", "typeflag 'Z' and GNU sparse 'S' and contiguous '7'")
def _():
    return one(t.header("z", size=1, typ=b"Z") + t.pad(b"z"),
               t.header("s", size=1, typ=b"S") + t.pad(b"s"),
               t.header("c7", size=1, typ=b"7") + t.pad(b"c"))


@case("dup-entries", "ok", "the same file 3 times, last wins")
@with_check(lambda dirs: [] if open(os.path.join(dirs[-1], "x")).read() == "3" else ["x != '3'"])
def _():
    return one(t.file("x", "1"), t.file("x", "2"), t.file("x", "3"))


@case("old-v7-header", "either", "pre-POSIX header (no ustar magic)")
def _():
    return one(t.header("v7file", size=1, magic=b"\0" * 6, version=b"\0\0") + t.pad(b"v"))


# ---------------------------------------------------------------- 4. manifests / configs
GOOD = lambda: Layer(t.tar(*base_entries()))


@case("zero-layers", "either", "manifest with 0 layers, config with 0 diff_ids")
def _():
    return dict(layers=[])


@case("more-diffids", "fail", "config has 2 diff_ids, manifest 1 layer")
def _():
    return dict(layers=[GOOD()], extra_diff_ids=[t.sha(b"extra")])


@case("fewer-diffids", "fail", "config has 1 diff_id, manifest 2 layers")
def _():
    l2 = Layer(t.tar(t.file("z", "z")))
    def cfg(c):
        c["rootfs"]["diff_ids"] = c["rootfs"]["diff_ids"][:1]
        return c
    return dict(layers=[GOOD(), l2], config_override=cfg)


@case("unknown-media-type", "fail", "layer media type application/vnd.example.unknown")
def _():
    return dict(layers=[Layer(t.tar(*base_entries()), media_type="application/vnd.example.unknown")])


@case("zstd-labelled-gzip", "fail", "zstd bytes, media type tar+gzip")
def _():
    return dict(layers=[Layer(t.tar(*base_entries()), compress="zstd", media_type=t.MT_GZ)])


@case("gzip-labelled-tar", "fail", "gzip bytes, media type tar")
def _():
    return dict(layers=[Layer(t.tar(*base_entries()), compress="gzip", media_type=t.MT_TAR)])


@case("tar-labelled-zstd", "fail", "plain tar bytes, media type tar+zstd")
def _():
    return dict(layers=[Layer(t.tar(*base_entries()), compress="none", media_type=t.MT_ZST)])


@case("docker-mediatype", "ok", "docker rootfs.diff.tar.gzip media type")
@with_check(lambda dirs: [] if os.path.isfile(os.path.join(dirs[-1], "etc/hello")) else ["etc/hello missing"])
def _():
    return dict(layers=[Layer(t.tar(*base_entries()),
                              media_type="application/vnd.docker.image.rootfs.diff.tar.gzip")])


@case("nondistributable", "either", "media type ...layer.nondistributable.v1.tar+gzip")
def _():
    return dict(layers=[Layer(t.tar(*base_entries()),
                              media_type="application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")])


@case("same-layer-twice", "ok", "the same layer listed twice")
def _():
    return dict(layers=[GOOD(), GOOD()])


def _mo_layer_digest(val):
    def mo(m):
        m["layers"][0]["digest"] = val
        return m
    return mo


@case("digest-traversal", "fail", "layer digest 'sha256:../../../../etc/passwd'")
def _():
    return dict(layers=[GOOD()], manifest_override=_mo_layer_digest("sha256:../../../../../../../etc/passwd"))


@case("digest-traversal-64", "fail", "layer digest 'sha256:' + '../'*... padded to 64 chars")
def _():
    v = ("../" * 21 + "x")[:64]
    return dict(layers=[GOOD()], manifest_override=_mo_layer_digest("sha256:" + v))


@case("digest-uppercase", "fail", "layer digest in uppercase hex")
def _():
    l = GOOD()
    return dict(layers=[l], manifest_override=_mo_layer_digest("sha256:" + l.desc_digest[7:].upper()))


@case("digest-sha512-alg", "fail", "layer digest 'sha512:<sha256 hex>'")
def _():
    l = GOOD()
    return dict(layers=[l], manifest_override=_mo_layer_digest("sha512:" + l.desc_digest[7:]))


@case("digest-unknown-alg", "fail", "layer digest 'md5:../../x'")
def _():
    return dict(layers=[GOOD()], manifest_override=_mo_layer_digest("md5:../../x"))


def _mo_config_size(val):
    def mo(m):
        m["config"]["size"] = val
        return m
    return mo


@case("config-size-negative", "fail", "config descriptor size -2 (a size buffers and limits are made from)")
def _():
    return dict(layers=[GOOD()], manifest_override=_mo_config_size(-2))


@case("config-digest-traversal", "fail", "config digest 'sha256:../../../../etc/passwd'")
def _():
    def mo(m):
        m["config"]["digest"] = "sha256:../../../../../../../etc/passwd"
        return m
    return dict(layers=[GOOD()], manifest_override=mo)


@case("layer-size-negative", "fail", "layer descriptor size -1")
def _():
    def mo(m):
        m["layers"][0]["size"] = -1
        return m
    return dict(layers=[GOOD()], manifest_override=mo)


@case("layer-size-2^62", "fail", "layer descriptor size 2^62")
def _():
    def mo(m):
        m["layers"][0]["size"] = 2 ** 62
        return m
    return dict(layers=[GOOD()], manifest_override=mo)


@case("layer-size-2^64", "fail", "layer descriptor size 2^64 (overflows Int64)")
def _():
    def mo(m):
        m["layers"][0]["size"] = 2 ** 64
        return m
    return dict(layers=[GOOD()], manifest_override=mo)


@case("diffid-malformed", "fail", "config diff_id 'sha256:xyz'")
def _():
    def cfg(c):
        c["rootfs"]["diff_ids"] = ["sha256:xyz"]
        return c
    return dict(layers=[GOOD()], config_override=cfg)


@case("config-not-json", "fail", "config blob is not JSON")
def _():
    return dict(layers=[GOOD()], config_override=lambda c: b"{not json")


@case("rootfs-missing", "fail", "config without rootfs")
def _():
    def cfg(c):
        del c["rootfs"]
        return c
    return dict(layers=[GOOD()], config_override=cfg)


@case("layers-null", "fail", "manifest layers: null")
def _():
    def mo(m):
        m["layers"] = None
        return m
    return dict(layers=[], manifest_override=mo)


# ------------------------------------------------------------ multi-layer: failure in layer 2
@case("2layer-second-bad-diffid", "fail", "good layer 0, layer 1 with a wrong diff_id")
def _():
    return dict(layers=[GOOD(), Layer(t.tar(t.file("z", "z")), diff_id=t.sha(b"no"))])


@case("2layer-first-bad-trunc", "fail", "layer 0 truncated gzip, good layer 1")
def _():
    full = t.gz(BIG)
    return dict(layers=[Layer(BIG, blob=full[: len(full) // 2]), Layer(t.tar(t.file("z", "z")))])


@case("deep-17x250", "either", "17 nested dirs with 250-byte names (path > PATH_MAX), explicit entries, then a file")
def _():
    ents = []
    for i in range(1, 18):
        ents.append(t.pax([("path", ("d" * 250 + "/") * i)]))
        ents.append(t.dir("ignored/"))
    ents.append(t.pax([("path", ("d" * 250 + "/") * 17 + "f")]))
    ents.append(t.file("ignored", "deep"))
    return one(*ents)


# ------------------------------------------- overlay-mode (layer above a base) whiteouts/links
def two(base, top, **kw):
    return dict(layers=[Layer(t.tar(*base)), Layer(t.tar(*top), **kw)])


def chardev00(path):
    return lambda dirs: [] if (os.path.lexists(os.path.join(dirs[-1], path)) and stat.S_ISCHR(os.lstat(os.path.join(dirs[-1], path)).st_mode)
                               and os.lstat(os.path.join(dirs[-1], path)).st_rdev == 0) else ["%s is not a 0/0 whiteout: %s" % (path, lst(dirs[-1]))]


@case("ov-wh-dotdot", "either", "layer 2: '.wh...' and 'a/.wh...'")
def _():
    return two(base_entries(), [t.file(".wh...", ""), t.dir("a/"), t.file("a/.wh...", "")])


@case("ov-wh-escape", "either", "layer 2: '../.wh.pwned_wh', '/../../.wh.pwned_wh2'")
def _():
    return two(base_entries(), [t.file("../.wh.pwned_wh", ""), t.file("/../../.wh.pwned_wh2", "")])


@case("ov-wh-through-symlink", "either", "layer 2: symlink evil -> TRIP, evil/.wh.t, evil/.wh..wh..opq")
def _():
    return two(base_entries(), [t.symlink("evil", TRIP), t.file("evil/.wh.t", ""), t.file("evil/.wh..wh..opq", "")])


@case("ov-wh-through-lower-symlink", "either", "layer 1: evil -> TRIP/d; layer 2: evil/.wh.x, evil/.wh..wh..opq")
def _():
    return two([t.symlink("evil", TRIP + "/d")], [t.file("evil/.wh.x", ""), t.file("evil/.wh..wh..opq", "")])


def chk_gone(rel):
    def chk(dirs):
        return ["%s is still there: %s" % (rel, lst(dirs[-1]))] if os.path.lexists(os.path.join(dirs[-1], rel)) else []
    return chk


@case("ov-wh-of-lower-dir", "ok", "layer 2: '.wh.etc' over layer 1's etc/")
@with_check(chk_gone("etc") if NATIVE else chardev00("etc"))
def _():
    return two(base_entries(), [t.file(".wh.etc", "")])


def chk_opq_root(dirs):
    try:
        v = os.getxattr(dirs[-1], "trusted.overlay.opaque")
        return [] if v == b"y" else ["root opaque=%r" % v]
    except OSError:
        return ["layer-2 root has no trusted.overlay.opaque (containerd sets it)"]


@case("ov-opq-root", "either", "layer 2: '.wh..wh..opq' at the root")
def _():
    return two(base_entries(), [t.file(".wh..wh..opq", ""), t.file("x", "x")])


def chk_hl_lower(dirs):
    p = os.path.join(dirs[-1], "h")
    if not os.path.isfile(p) or open(p).read() != "hello\n":
        return ["h missing or wrong: %s" % lst(dirs[-1])]
    return []


# containerd 1.6 resolves a hardlink's target in the layer's own directory: with overlay that is
# the upper dir only, and a target in a lower layer fails with ENOENT (CONTAINERD-APPLY.md,
# item 7); with native it is the whole tree. So does decant.
@case("ov-hl-into-lower", "ok" if NATIVE else "fail", "layer 2: hardlink h -> etc/hello (a layer-1 file)")
@with_check(chk_hl_lower)
def _():
    return two(base_entries(), [t.hardlink("h", "etc/hello")])


@case("ov-hl-lower-escape", "either", "layer 2: hardlink h -> ../(x12)etc/passwd (resolved at commit)")
def _():
    return two(base_entries(), [t.hardlink("h", UP + "etc/passwd")])


@case("ov-hl-abs-tripwire", "either", "layer 2: hardlink h -> TRIP/t (resolved at commit)")
def _():
    return two(base_entries(), [t.hardlink("h", TRIP + "/t")])


@case("ov-hl-through-lower-symlink", "either", "layer 1: evil -> TRIP; layer 2: hardlink h -> evil/t")
def _():
    return two([t.symlink("evil", TRIP)], [t.hardlink("h", "evil/t")])


@case("ov-hl-to-lower-symlink", "either", "layer 1: s -> TRIP/t; layer 2: hardlink h -> s (must link the symlink, not TRIP/t)")
@with_check(lambda dirs: [] if not os.path.lexists(os.path.join(dirs[-1], "h")) or os.path.islink(os.path.join(dirs[-1], "h")) else ["h is not a symlink"])
def _():
    return two([t.symlink("s", TRIP + "/t")], [t.hardlink("h", "s")])


def chk_implicit_over_symlink(dirs):
    p = os.path.join(dirs[-1], "evil")
    probs = []
    if os.path.isdir(p) and not os.path.islink(p):
        st = os.lstat(p)
        if st.st_uid == 4321 or stat.S_IMODE(st.st_mode) == 0o705:
            probs.append("implicit dir evil took TRIP/d's owner/mode (%d, %o): fix-up followed the lower symlink out of the root" % (st.st_uid, stat.S_IMODE(st.st_mode)))
        try:
            os.getxattr(p, "user.trip")
            probs.append("implicit dir evil took TRIP/d's user.trip xattr")
        except OSError:
            pass
    return probs


@case("ov-implicit-parent-over-lower-symlink", "either", "layer 1: evil -> TRIP/d (0705, uid 4321, user.trip); layer 2: evil/pwned_x (implicit parent)")
@with_check(chk_implicit_over_symlink)
def _():
    return two([t.symlink("evil", TRIP + "/d")], [t.file("evil/pwned_x", "x")])


@case("ov-implicit-parent-over-lower-etc", "either", "layer 1: evil -> /etc; layer 2: evil/passwd (implicit parent)")
def _():
    return two([t.symlink("evil", "/etc")], [t.file("evil/passwd", "pwned::0:0::/:/bin/sh\n")])


@case("ov-implicit-parent-over-lower-file", "either", "layer 1: file f; layer 2: f/x (implicit parent over a lower file)")
def _():
    return two([t.file("f", "f")], [t.file("f/x", "x")])


@case("ov-entry-name-escapes", "fail", "entry name with newline + ESC sequence, unknown type (error text injection)")
def _():
    return one(t.pax([("path", "x\nFAKE: pull succeeded\x1b[2K")]), t.header("x", size=0, typ=b"Z"))
