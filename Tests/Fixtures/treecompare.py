#!/usr/bin/env python3
"""treecompare.py — compare two treedump.py JSON dumps.

Usage:  python3 Tests/Fixtures/treecompare.py A.json B.json [--ignore-mtime PATH ...]
                                                [--ignore-xattr NAME ...]

Prints one line per difference ("only in A", "only in B", or "PATH: FIELD: A=... B=...") and
exits 1 if there is any, 0 if the dumps are identical (after the ignores), 2 on usage errors.
--ignore-mtime takes one or more paths (shell-style globs allowed, e.g. 'ip/*') whose mtime_ns
is not compared; the option may be repeated. --ignore-xattr likewise drops xattr names (globs
allowed) from both sides. Python 3 standard library only.
"""

import fnmatch
import json
import sys


def parse(argv):
    files, ignore_mtime, ignore_xattr = [], [], []
    target = files
    for a in argv:
        if a == "--ignore-mtime":
            target = ignore_mtime
        elif a == "--ignore-xattr":
            target = ignore_xattr
        elif a in ("-h", "--help"):
            return None
        else:
            target.append(a)
    # positional files may only come before the first option
    if len(files) != 2:
        return None
    return files, ignore_mtime, ignore_xattr


def matches(path, patterns):
    return any(path == p or fnmatch.fnmatchcase(path, p) for p in patterns)


def show(v):
    return json.dumps(v, sort_keys=True)


def main(argv):
    parsed = parse(argv)
    if parsed is None:
        sys.stderr.write("usage: treecompare.py A.json B.json [--ignore-mtime PATH ...] "
                         "[--ignore-xattr NAME ...]\n")
        return 2
    (fa, fb), ignore_mtime, ignore_xattr = parsed
    try:
        with open(fa) as f:
            a = json.load(f)
        with open(fb) as f:
            b = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("treecompare.py: %s\n" % e)
        return 2

    diffs = 0
    for path in sorted(set(a) | set(b)):
        if path not in b:
            print("only in A: %s (%s)" % (path, a[path].get("type")))
            diffs += 1
            continue
        if path not in a:
            print("only in B: %s (%s)" % (path, b[path].get("type")))
            diffs += 1
            continue
        ea, eb = dict(a[path]), dict(b[path])
        if matches(path, ignore_mtime):
            ea.pop("mtime_ns", None)
            eb.pop("mtime_ns", None)
        for e in (ea, eb):
            xa = {k: v for k, v in e.get("xattrs", {}).items() if not matches(k, ignore_xattr)}
            e.pop("xattrs", None)
            if xa:
                e["xattrs"] = xa
        for field in sorted(set(ea) | set(eb)):
            va, vb = ea.get(field), eb.get(field)
            if va == vb:
                continue
            diffs += 1
            if field == "xattrs":
                xa, xb = va or {}, vb or {}
                for n in sorted(set(xa) | set(xb)):
                    if xa.get(n) != xb.get(n):
                        print("%s: xattr %s: A=%s B=%s" % (path, n, show(xa.get(n)),
                                                            show(xb.get(n))))
            else:
                print("%s: %s: A=%s B=%s" % (path, field, show(va), show(vb)))
    if diffs:
        print("%d difference(s) between %s and %s" % (diffs, fa, fb))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
