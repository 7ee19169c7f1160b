#!/usr/bin/env python3
"""Builds every hostile OCI layout in cases.py and pulls each into a fresh decant store, one at a time.

    python3 run.py --decant BIN --work DIR [--snapshotter native] [--extra "ARGS"] [NAME-SUBSTRING ...]

As root. Per case: the pull must not crash or hang; a bad layout must fail and leave the store as
an empty one (no snapshot, image, lease or ingest; blobs only where the layer itself was sound);
a good one must unpack what cases.py checks; nothing outside the case's snapshots may change (a
tripwire tree, /etc, the layout itself); no mount may be left; and a good image must pull into
the same store afterwards. Prints PASS or FAIL per case, writes DIR/results.json, and exits 1 if
any case failed.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

ARGS = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ARGS.add_argument("--decant", required=True, help="the decant binary")
ARGS.add_argument("--work", required=True, help="a directory for the layouts, the stores and the tripwire")
ARGS.add_argument("--snapshotter", help="pass --snapshotter to every pull")
ARGS.add_argument("--extra", default="", help="more pull arguments, space-separated")
ARGS.add_argument("names", nargs="*", help="only the cases whose name contains one of these")
OPTIONS = ARGS.parse_args()

DECANT = os.path.abspath(OPTIONS.decant)
FUZZ = os.path.abspath(OPTIONS.work)
LAYOUTS = FUZZ + "/layouts"
RUN = FUZZ + "/run"
os.environ["DECANT_HOSTILE_TRIPWIRE"] = FUZZ + "/tripwire"
os.environ["DECANT_HOSTILE_SNAPSHOTTER"] = OPTIONS.snapshotter or "overlay"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tarlib as t  # noqa: E402
from cases import CASES, TRIP  # noqa: E402

EMPTY_STORE = {"content", "content/blobs", "content/blobs/sha256", "content/ingest", "leases",
               "metadata.db", "snapshots", "snapshots/native", "snapshots/overlay"}
IGNORED = {"events.log", "gc.lock", "metadata.db-shm", "metadata.db-wal"}
CRASH = re.compile(r"Fatal error|fatal error|Illegal instruction|Trace/breakpoint|Segmentation fault|"
                   r"Aborted|core dumped|Stack dump|precondition failed|Assertion failed")


def sh(*args, timeout=180):
    try:
        p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        return "TIMEOUT", (e.stdout or b"").decode(errors="replace"), (e.stderr or b"").decode(errors="replace")


def fstate(path):
    """Everything about a tree that a hostile write could change."""
    out = {}
    for root, dirs, files in os.walk(path):
        for n in [""] + dirs + files:
            p = os.path.join(root, n) if n else root
            st = os.lstat(p)
            h = None
            if os.path.isfile(p) and not os.path.islink(p):
                h = hashlib.sha256(open(p, "rb").read()).hexdigest()
            try:
                xs = sorted(os.listxattr(p, follow_symlinks=False))
            except OSError:
                xs = []
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                                             st.st_nlink, st.st_ino, h, xs)
        if root != path:
            pass
    return out


def etc_state():
    st = os.lstat("/etc/passwd")
    return (sorted(os.listdir("/etc")),
            hashlib.sha256(open("/etc/passwd", "rb").read()).hexdigest(), st.st_nlink, st.st_ino,
            st.st_mode, st.st_mtime_ns)


def setup_tripwire():
    if os.path.exists(TRIP):
        shutil.rmtree(TRIP)
    os.makedirs(TRIP + "/d")
    with open(TRIP + "/t", "w") as f:
        f.write("TRIPWIRE\n")
    os.chmod(TRIP + "/t", 0o640)
    os.chown(TRIP + "/d", 4321, 4321)
    os.chmod(TRIP + "/d", 0o705)
    os.setxattr(TRIP + "/d", "user.trip", b"1")


def pwned_outside(root):
    """Files named pwned* anywhere but inside a snapshot's fs/ dir of this case's store."""
    hits = []
    allowed = re.compile(re.escape(root) + r"/snapshots/(overlay|native)/\d+/fs(/|$)")
    for top in [FUZZ]:
        for r, dirs, files in os.walk(top):
            if r.startswith(LAYOUTS) or r.startswith(FUZZ + "/etc-backup"):
                dirs[:] = []
                continue
            if r.startswith(FUZZ + "/run") and not r.startswith(root):
                dirs[:] = []
                continue
            for n in dirs + files:
                p = os.path.join(r, n)
                if "pwned" in n and not allowed.match(p):
                    hits.append(p)
    for top in ["/", "/etc", "/tmp", "/var/tmp", "/root", "/var", "/var/lib"]:
        try:
            for n in os.listdir(top):
                if "pwned" in n:
                    hits.append(os.path.join(top, n))
        except OSError:
            pass
    return hits


def store_listing(root):
    out = set()
    for r, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(r, n), root))
    return out


def jcmd(root, *args):
    rc, out, err = sh(DECANT, *args, "--root", root, "--json")
    try:
        return json.loads(out)
    except Exception:
        return {"error": (out + err).strip()[:300]}


def first_error_line(out, err):
    for line in err.splitlines():
        if line.strip():
            return line.strip()
    for line in reversed(out.splitlines()):
        if '"error"' in line:
            return line.strip()
    return ""


def snapshot_dir_extras(root):
    extras = []
    for sn in ("overlay", "native"):
        base = os.path.join(root, "snapshots", sn)
        if not os.path.isdir(base):
            continue
        for n in os.listdir(base):
            inner = set(os.listdir(os.path.join(base, n)))
            if inner - {"fs"}:
                extras.append("snapshots/%s/%s has %s" % (sn, n, sorted(inner - {"fs"})))
    return extras


def pull(root, layout, tag="latest"):
    extra = ["--snapshotter", OPTIONS.snapshotter] if OPTIONS.snapshotter else []
    extra += OPTIONS.extra.split()
    started = time.monotonic()
    rc, out, err = sh(DECANT, "pull", "--json", *extra, "--root", root, "oci:%s:%s" % (layout, tag))
    return rc, out, err, "%.2f" % (time.monotonic() - started)


def main():
    sys.setrecursionlimit(200000)
    filt = OPTIONS.names
    os.makedirs(LAYOUTS, exist_ok=True)
    os.makedirs(RUN, exist_ok=True)
    if not os.path.exists(FUZZ + "/etc-backup/passwd"):
        os.makedirs(FUZZ + "/etc-backup", exist_ok=True)
        for f in ("passwd", "shadow", "group"):
            shutil.copy2("/etc/" + f, FUZZ + "/etc-backup/" + f)
    good = LAYOUTS + "/_good"
    t.write_layout(good, [t.Layer(t.tar(t.dir("etc/"), t.file("etc/good", "good\n"))),
                          t.Layer(t.tar(t.dir("usr/"), t.file("usr/good2", "g\n")), compress="zstd")])
    results = []
    for name, expect, desc, build, check in CASES:
        if filt and not any(f in name for f in filt):
            continue
        layout = os.path.join(LAYOUTS, name)
        casedir = os.path.join(RUN, name)
        root = os.path.join(casedir, "root")
        if os.path.exists(casedir):
            shutil.rmtree(casedir)
        os.makedirs(casedir)
        spec = build()
        man = t.write_layout(layout, spec["layers"], spec.get("extra_diff_ids", ()),
                             spec.get("config_override"), spec.get("manifest_override"))
        setup_tripwire()
        trip0, etc0, lay0 = fstate(TRIP), etc_state(), fstate(layout)
        rc, out, err, secs = pull(root, layout)
        open(os.path.join(casedir, "stdout"), "w").write(out)
        open(os.path.join(casedir, "stderr"), "w").write(err)
        msg = first_error_line(out, err)
        problems, notes = [], []
        if rc == "TIMEOUT":
            problems.append("timeout (hang?)")
        elif rc < 0 or rc >= 128 or CRASH.search(err):
            problems.append("CRASH rc=%s: %s" % (rc, (CRASH.search(err) or re.search(".*", err)).group(0)[:200]))
        succeeded = rc == 0
        if expect == "fail" and succeeded:
            problems.append("accepted bad input (rc 0)")
        if expect == "ok" and not succeeded:
            problems.append("rejected valid input: %s" % msg[:200])
        listing = store_listing(root) if os.path.isdir(root) else set()
        snaps = jcmd(root, "snapshots", "ls")
        imgs = jcmd(root, "images", "ls")
        leases = jcmd(root, "leases", "ls")
        content = jcmd(root, "content", "ls")
        nblobs = len(content) if isinstance(content, list) else "?"
        clean = None
        if not succeeded:
            extra = sorted(p for p in listing - EMPTY_STORE - IGNORED)
            clean = True
            if extra:
                blobs_only = all(p.startswith("content/blobs/sha256/") for p in extra)
                (notes if blobs_only else problems).append("store has extra: %s" % extra[:6])
                clean = False if not blobs_only else "blobs-left"
            if snaps != []:
                problems.append("snapshots left: %s" % json.dumps(snaps)[:300])
                clean = False
            if imgs != []:
                problems.append("image recorded: %s" % json.dumps(imgs)[:200])
                clean = False
            if leases != []:
                problems.append("leases left: %s" % json.dumps(leases)[:200])
                clean = False
            if expect == "fail" and name not in ("config-not-json", "rootfs-missing", "layers-null") \
                    and not any(k in name for k in ("diffid", "digest", "media", "size-2", "labelled")):
                # layer content errors should name the image and a layer
                if "oci:" not in msg:
                    notes.append("error does not name the image")
                if not re.search(r"sha256:[0-9a-f]{12}|layer", msg):
                    notes.append("error does not name the layer")
        else:
            try:
                summary = json.loads(out.strip().splitlines()[-1])
                dirs = [l["directory"] for l in summary["layers"]]
            except Exception as e:
                dirs = []
                problems.append("no summary: %s" % e)
            if check and dirs:
                try:
                    problems += check(dirs)
                except Exception as e:
                    problems.append("check raised %r; tree=%s" % (e, [sorted(os.listdir(d)) for d in dirs]))
            problems += snapshot_dir_extras(root)
            if isinstance(snaps, list) and any(s.get("kind") != "committed" for s in snaps):
                problems.append("non-committed snapshots left after success")
            if dirs:
                open(os.path.join(casedir, "tree"), "w").write(
                    subprocess.run(["bash", "-c", "cd %s && find . -printf '%%M %%u %%s %%p -> %%l\\n' | head -200"
                                    % dirs[-1]], stdout=subprocess.PIPE).stdout.decode(errors="replace"))
        mounts = [l for l in open("/proc/mounts") if FUZZ in l]
        if mounts:
            problems.append("mounts leaked: %s" % mounts[:2])
        trip1, etc1, lay1 = fstate(TRIP), etc_state(), fstate(layout)
        if trip1 != trip0:
            diff = {k: (trip0.get(k), trip1.get(k)) for k in set(trip0) | set(trip1) if trip0.get(k) != trip1.get(k)}
            problems.append("TRIPWIRE CHANGED: %s" % str(diff)[:300])
        if etc1 != etc0:
            problems.append("/etc CHANGED: %s vs %s" % (str(etc0)[-120:], str(etc1)[-120:]))
            for f in ("passwd", "shadow", "group"):
                shutil.copy2(FUZZ + "/etc-backup/" + f, "/etc/" + f)
        lay_diff = [k for k in set(lay0) | set(lay1)
                    if (lay0.get(k) or ())[:4] + (lay0.get(k) or ())[7:] != (lay1.get(k) or ())[:4] + (lay1.get(k) or ())[7:]]
        if lay_diff:
            problems.append("layout modified: %s" % lay_diff[:4])
        hits = pwned_outside(root)
        if hits:
            problems.append("written outside snapshot fs: %s" % hits[:4])
        # 5. a good pull into the same root must work afterwards
        rc2, out2, err2, _ = pull(root, good)
        if rc2 != 0:
            problems.append("follow-up good pull failed rc=%s: %s" % (rc2, first_error_line(out2, err2)[:200]))
        else:
            snaps2 = jcmd(root, "snapshots", "ls")
            if any(s.get("kind") != "committed" for s in snaps2):
                problems.append("active snapshots after good pull")
        verdict = "FAIL" if problems else "PASS"
        if not problems:
            # GNU rm removes trees of any depth; what failed stays to be looked at.
            subprocess.run(["rm", "-rf", casedir], check=True)
        r = dict(name=name, expect=expect, desc=desc, rc=rc, msg=msg, clean=clean, blobs=nblobs,
                 verdict=verdict, problems=problems, notes=notes, seconds=secs,
                 follow_rc=rc2)
        results.append(r)
        print("%-4s %-30s rc=%-4s clean=%-10s %s%s" % (verdict, name, rc, clean, msg[:150],
                                                      ("\n      PROBLEMS: " + " | ".join(problems)) if problems else "")
              + (("\n      notes: " + " | ".join(notes)) if notes else ""), flush=True)
    with open(FUZZ + "/results.json", "w") as f:
        json.dump(results, f, indent=1)
    failed = [r["name"] for r in results if r["verdict"] == "FAIL"]
    print("%d cases: %d passed, %d failed%s" % (len(results), len(results) - len(failed), len(failed),
                                                (": " + " ".join(failed)) if failed else ""))
    if not results or failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
