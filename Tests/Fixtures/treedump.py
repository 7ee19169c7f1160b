#!/usr/bin/env python3
"""treedump.py — dump a directory tree as canonical JSON, for comparing unpacked layers.

Usage:  python3 Tests/Fixtures/treedump.py DIR [--out FILE]

Prints (or writes to FILE) one JSON object, keys sorted, mapping every path relative to DIR
("." for DIR itself) to:
  type        "reg" | "dir" | "symlink" | "chr" | "blk" | "fifo" | "sock"
  mode        octal string of the 07777 permission bits, e.g. "0755"
  uid, gid    numbers
  size        regular files only
  sha256      regular files only (hex)
  inode_group non-directories whose link count is > 1: the lexicographically smallest path in
              the dump that shares the inode
  target      symlinks only
  rdev        [major, minor], character and block devices only
  xattrs      {name: hex value}, all namespaces (user, security, trusted, ...); omitted if none
  mtime_ns    modification time in ns; omitted for "." and for 0/0 character devices
              (overlay whiteouts get the time of extraction)

Symlinks are never followed (lstat, l*xattr, O_NOFOLLOW); files are read with O_NOATIME where
allowed. Python 3 standard library only; run as root to see trusted.* xattrs.
"""

import hashlib
import json
import os
import stat
import sys

TYPES = [
    (stat.S_ISREG, "reg"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
    (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk"), (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "sock"),
]


def file_type(mode):
    for test, name in TYPES:
        if test(mode):
            return name
    return "unknown"


def sha256_file(path):
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        fd = os.open(path, flags)
    h = hashlib.sha256()
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in names:
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False).hex()
        except OSError as e:
            out[n] = "<error %s>" % e.strerror
    return out


def dump(root):
    entries = {}
    inodes = {}

    def visit(abspath, rel):
        st = os.lstat(abspath)
        t = file_type(st.st_mode)
        e = {"type": t, "mode": "%04o" % stat.S_IMODE(st.st_mode), "uid": st.st_uid,
             "gid": st.st_gid}
        if t == "reg":
            e["size"] = st.st_size
            e["sha256"] = sha256_file(abspath)
        elif t == "symlink":
            e["target"] = os.fsdecode(os.readlink(abspath))
        elif t in ("chr", "blk"):
            e["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
        xa = xattrs(abspath)
        if xa:
            e["xattrs"] = xa
        whiteout = t == "chr" and st.st_rdev == 0
        if rel != "." and not whiteout:
            e["mtime_ns"] = st.st_mtime_ns
        if t != "dir" and st.st_nlink > 1:
            inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            e["_ino"] = (st.st_dev, st.st_ino)
        entries[rel] = e
        if t == "dir":
            with os.scandir(abspath) as it:
                names = sorted(d.name for d in it)
            for n in names:
                visit(os.path.join(abspath, n), n if rel == "." else rel + "/" + n)

    visit(root, ".")
    for e in entries.values():
        ino = e.pop("_ino", None)
        if ino is not None:
            e["inode_group"] = min(inodes[ino])
    return entries


def main(argv):
    args = list(argv)
    out = None
    if "--out" in args:
        i = args.index("--out")
        if i + 1 >= len(args):
            sys.stderr.write("treedump.py: --out needs a file\n")
            return 2
        out = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: treedump.py DIR [--out FILE]\n")
        return 2
    root = args[0]
    if not os.path.isdir(root) or os.path.islink(root):
        sys.stderr.write("treedump.py: %s is not a directory\n" % root)
        return 2
    text = json.dumps(dump(root), sort_keys=True, indent=1) + "\n"
    if out:
        with open(out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
