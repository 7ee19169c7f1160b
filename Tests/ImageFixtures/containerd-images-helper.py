#!/usr/bin/env python3
"""containerd-images-helper.py — helpers for containerd-images.sh (Python 3 stdlib only).

Usage:
  containerd-images-helper.py plan OUTDIR
      one line per image of OUTDIR/images.json:
      NAME ok|error DOCKER-ARCHIVE|- DOCKER-REPO-TAG|- CHAINID... (bottom layer first)
  containerd-images-helper.py dump-layers OUTDIR OVERLAY-ROOT NAMESPACE NAME START_NS
      dumps the overlay upper dir (fs) of every layer's committed snapshot (named by its
      chainID) to OUTDIR/ref/NAME/layer-<i>.json, records the paths whose mtime is the
      extraction time under "layer-<i>" in OUTDIR/ref/NAME/unstable-mtime.json, and fails if
      they differ from the layer's unstableMtime in images.json.
  containerd-images-helper.py dump-tree OUTDIR NAME KEY DIR START_NS
      dumps DIR to OUTDIR/ref/NAME/KEY.json and records its extraction-time paths under KEY.
  containerd-images-helper.py compare-layers OUTDIR OVERLAY-ROOT NAMESPACE NAME START_NS TMPDIR
      dumps every layer's overlay upper dir in NAMESPACE to TMPDIR/NAME/layer-<i>.json and
      compares it with OUTDIR/ref/NAME/layer-<i>.json (treecompare.py), ignoring the mtimes of
      extraction-time paths of either dump; fails on any difference.
  containerd-images-helper.py manifest-layers < MANIFEST-JSON
      prints "mediaType digest size" for every layer of the manifest on stdin.
  containerd-images-helper.py check-snapshots OUTDIR NAMESPACE SNAPSHOTS-LS-OUTPUT
      checks `ctr snapshots ls` output: every chainID of the ok images is there exactly once,
      committed, with the right parent, and nothing else is; prints one summary line.

Snapshot directories come from Tests/Fixtures/containerd-ref-helper.py (snapshot_dir: the
snapshotter's own bolt metadata); dumps from Tests/Fixtures/treedump.py.
"""

import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing the Fixtures scripts must not write into Fixtures/


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(HERE), "Fixtures", filename))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


refhelper = _load("containerd_ref_helper", "containerd-ref-helper.py")
treedump = _load("treedump", "treedump.py")
treecompare = _load("treecompare", "treecompare.py")


def load_images(outdir):
    with open(os.path.join(outdir, "images.json")) as f:
        return {im["name"]: im for im in json.load(f)["images"]}


def cmd_plan(outdir):
    for im in load_images(outdir).values():
        print(im["name"], "ok" if im["expect"] == "ok" else "error",
              im["dockerArchive"] or "-", im["dockerRepoTag"] or "-", *im["chainIDs"])
    return 0


def write_dump(outdir, name, key, d, start_ns):
    """Dump d to ref/NAME/KEY.json; record and return its extraction-time paths."""
    tree = treedump.dump(d)
    out = os.path.join(outdir, "ref", name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, key + ".json"), "w") as f:
        f.write(json.dumps(tree, sort_keys=True, indent=1) + "\n")
    now = time.time_ns() + 60 * 10**9
    unstable = sorted(p for p, e in tree.items() if start_ns <= e.get("mtime_ns", -1) <= now)
    upath = os.path.join(out, "unstable-mtime.json")
    allu = {}
    if os.path.exists(upath):
        with open(upath) as f:
            allu = json.load(f)
    allu[key] = unstable
    with open(upath, "w") as f:
        f.write(json.dumps(allu, sort_keys=True, indent=1) + "\n")
    return tree, unstable


def cmd_dump_layers(outdir, sroot, namespace, name, start_ns):
    im = load_images(outdir)[name]
    failures = 0
    for i, (chain, layer) in enumerate(zip(im["chainIDs"], im["layers"])):
        try:
            d = refhelper.snapshot_dir(sroot, namespace, chain)
        except LookupError as e:
            print("FAIL %s layer %d: %s" % (name, i, e))
            failures += 1
            continue
        tree, unstable = write_dump(outdir, name, "layer-%d" % i, d, int(start_ns))
        if unstable != layer["unstableMtime"]:
            print("FAIL %s layer %d: extraction-time mtimes %r != images.json unstableMtime %r"
                  % (name, i, unstable, layer["unstableMtime"]))
            failures += 1
        print("%s layer-%d: %d entries, %d whiteouts, %d opaque, %d extraction-time mtimes"
              % (name, i, len(tree),
                 sum(1 for e in tree.values() if e["type"] == "chr" and e["rdev"] == [0, 0]),
                 sum(1 for e in tree.values()
                     if e.get("xattrs", {}).get("trusted.overlay.opaque") == b"y".hex()),
                 len(unstable)))
    return 1 if failures else 0


def cmd_dump_tree(outdir, name, key, d, start_ns):
    tree, unstable = write_dump(outdir, name, key, d, int(start_ns))
    print("%s %s: %d entries, %d extraction-time mtimes" % (name, key, len(tree), len(unstable)))
    return 0


def cmd_compare_layers(outdir, sroot, namespace, name, start_ns, tmpdir):
    im = load_images(outdir)[name]
    ref = os.path.join(outdir, "ref", name)
    with open(os.path.join(ref, "unstable-mtime.json")) as f:
        ref_unstable = json.load(f)
    failures = 0
    for i, chain in enumerate(im["chainIDs"]):
        key = "layer-%d" % i
        try:
            d = refhelper.snapshot_dir(sroot, namespace, chain)
        except LookupError as e:
            print("FAIL %s %s: %s" % (name, key, e))
            failures += 1
            continue
        tree = treedump.dump(d)
        now = time.time_ns() + 60 * 10**9
        unstable = {p for p, e in tree.items() if int(start_ns) <= e.get("mtime_ns", -1) <= now}
        os.makedirs(os.path.join(tmpdir, name), exist_ok=True)
        dumped = os.path.join(tmpdir, name, key + ".json")
        with open(dumped, "w") as f:
            f.write(json.dumps(tree, sort_keys=True, indent=1) + "\n")
        ignore = sorted(unstable | set(ref_unstable.get(key, [])))
        rc = treecompare.main([os.path.join(ref, key + ".json"), dumped, "--ignore-mtime"]
                              + ignore)
        print("%s %s (%s): %s" % (name, key, chain, "identical" if rc == 0 else "DIFFERENT"))
        failures += rc != 0
    return 1 if failures else 0


def cmd_manifest_layers():
    m = json.load(sys.stdin)
    for l in m.get("layers", []):
        print(l.get("mediaType"), l.get("digest"), l.get("size"))
    return 0


def cmd_check_snapshots(outdir, namespace, lsfile):
    """`ctr snapshots ls` prints KEY PARENT KIND (header line first)."""
    snaps = {}
    dup = []
    with open(lsfile) as f:
        for line in f.read().splitlines()[1:]:
            parts = line.split()
            if not parts:
                continue
            key, parent, kind = parts[0], (parts[1] if len(parts) == 3 else ""), parts[-1]
            if key in snaps:
                dup.append(key)
            snaps[key] = (parent, kind)
    want = {}
    for im in load_images(outdir).values():
        if im["expect"] != "ok":
            continue
        prev = ""
        for c in im["chainIDs"]:
            want.setdefault(c, set()).add(im["name"])
            if c in snaps and snaps[c][0] != prev:
                print("FAIL snapshot %s: parent %r, want %r" % (c, snaps[c][0], prev))
                return 1
            prev = c
    missing = sorted(set(want) - set(snaps))
    extra = sorted(set(snaps) - set(want))
    not_committed = sorted(k for k in want if k in snaps and snaps[k][1] != "Committed")
    shared = sorted((c, sorted(n)) for c, n in want.items() if len(n) > 1)
    ok = not (missing or extra or dup or not_committed)
    print("snapshots in %s: %d listed, %d distinct chainIDs over the ok images, %d shared "
          "between images (%s)%s" % (namespace, len(snaps), len(want), len(shared),
                                     "; ".join("%s…: %s" % (c[:19], ",".join(n))
                                               for c, n in shared),
                                     "" if ok else " — FAIL"))
    for what, keys in (("missing", missing), ("unexpected", extra), ("listed twice", dup),
                       ("not committed", not_committed)):
        for k in keys:
            print("FAIL snapshot %s: %s" % (k, what))
    return 0 if ok else 1


def main(argv):
    if len(argv) == 2 and argv[0] == "plan":
        return cmd_plan(argv[1])
    if len(argv) == 6 and argv[0] == "dump-layers":
        return cmd_dump_layers(*argv[1:])
    if len(argv) == 6 and argv[0] == "dump-tree":
        return cmd_dump_tree(*argv[1:])
    if len(argv) == 7 and argv[0] == "compare-layers":
        return cmd_compare_layers(*argv[1:])
    if len(argv) == 1 and argv[0] == "manifest-layers":
        return cmd_manifest_layers()
    if len(argv) == 4 and argv[0] == "check-snapshots":
        return cmd_check_snapshots(*argv[1:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
