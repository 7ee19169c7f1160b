#!/usr/bin/python3
"""Build the benchmark images of perf/compare.sh from files already on this machine (no network).

    /usr/bin/python3 perf/make-images.py OUTDIR [--quick] [KIND...]

KIND is many-files or big-files (default: both). For each kind, one set of uncompressed layer
tars is written and then compressed two ways, giving two images:

    OUTDIR/<kind>-gzip/   pigz -6 -n   application/vnd.oci.image.layer.v1.tar+gzip
    OUTDIR/<kind>-zstd/   zstd -3      application/vnd.oci.image.layer.v1.tar+zstd

each holding
    layout/       an OCI image layout, tag "latest" (org.opencontainers.image.ref.name), one
                  linux/amd64 manifest in index.json (io.containerd.image.name
                  docker.io/decant-perf/<image>:latest, for `ctr images import`)
    archive.tar   the same layout as one tar (an OCI archive)
    meta.json     what is in it: per layer (bottom first) the blob path, digest, compressed size,
                  diff_id, uncompressed tar size, entry counts; and the totals
meta.json is written last: an image whose meta.json exists is complete and is not rebuilt.

The kinds (full size; --quick scales every layer down to ~140 MB of tar per kind):
  many-files  ~1.2 GB of tar, ~140k entries, 5 layers: /usr/share; C headers and the small files of
              /usr/lib/x86_64-linux-gnu and GCC; Python stdlib, node_modules and the Google Cloud
              SDK; the small files of the Swift toolchain and package checkouts; an "app" layer
              replicating man pages, zoneinfo and perl under /srv/app. Files over 1 MiB are left
              out. Layers 4 and 5 carry whiteouts (files and whole directories of lower layers),
              opaque directories (usr/include/linux, usr/share/locale) with new content, same-layer
              hardlinks and relative/absolute symlinks.
  big-files   ~2.4 GB of tar, a few hundred entries, 4 layers of files of 1 MiB and more: shared
              libraries, the Swift toolchain's binaries and libraries, the JDK, LLVM, a TensorFlow
              plugin, a wheel, plus two deterministic pseudo-random/text files per layer (so that
              not everything is ELF); layer 4 deletes two files of layer 1 and hardlinks one of its own.

Deterministic for the same input files: sorted walk, mtime 2024-01-01 on every entry, owners and
modes as on disk, no uname/gname, PAX headers only where a name or size needs one. __pycache__ is
skipped (running Python would change it). A file that shrinks while being read is padded with
zeros, one that grows is cut at the size it had when stat'ed: the tar stays well formed.
"""

import hashlib
import json
import os
import platform
import random
import shutil
import stat
import subprocess
import sys
import tarfile
import time

MTIME = 1704067200  # 2024-01-01T00:00:00Z
MiB = 1 << 20
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())

GZIP_MT = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_MT = "application/vnd.oci.image.layer.v1.tar+zstd"


def log(*a):
    print("make-images:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# tar writing
# ---------------------------------------------------------------------------------------------

class LayerTar:
    """An uncompressed layer tar, hashed (diff_id) while written; remembers what it holds."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "wb")
        self.h = hashlib.sha256()
        self.size = 0
        self.names = set()
        self.files = []  # regular file names, in order (targets for whiteouts and hardlinks)
        self.dirs = []
        self.counts = {"entries": 0, "files": 0, "dirs": 0, "symlinks": 0, "hardlinks": 0,
                       "whiteouts": 0, "opaque": 0, "file_bytes": 0}
        self.inodes = {}  # (dev, ino) -> first name, for hardlinks present on disk

    def _w(self, b):
        self.f.write(b)
        self.h.update(b)
        self.size += len(b)

    def _header(self, ti):
        ti.mtime = MTIME
        ti.uname = ti.gname = ""
        self._w(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        self.counts["entries"] += 1
        self.names.add(ti.name.rstrip("/"))

    def ensure_dir(self, name, mode=0o755):
        """Adds NAME and every missing parent as directories."""
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.names:
                ti = tarfile.TarInfo(d)
                ti.type = tarfile.DIRTYPE
                ti.mode = mode
                self._header(ti)
                self.dirs.append(d)
                self.counts["dirs"] += 1

    def add_path(self, src, name, st):
        """Adds the file system object SRC (lstat ST) as NAME. Returns bytes of file data added."""
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if parent:
            self.ensure_dir(parent)
        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        if stat.S_ISDIR(st.st_mode):
            if name in self.names:
                return 0
            ti.type = tarfile.DIRTYPE
            self._header(ti)
            self.dirs.append(name)
            self.counts["dirs"] += 1
            return 0
        if stat.S_ISLNK(st.st_mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(src)
            self._header(ti)
            self.counts["symlinks"] += 1
            return 0
        if not stat.S_ISREG(st.st_mode):
            return 0
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.inodes:
            ti.type = tarfile.LNKTYPE
            ti.linkname = self.inodes[key]
            self._header(ti)
            self.counts["hardlinks"] += 1
            return 0
        try:
            src_f = open(src, "rb")
        except OSError:
            return 0
        with src_f:
            ti.type = tarfile.REGTYPE
            ti.size = st.st_size
            self._header(ti)
            left = st.st_size
            while left > 0:
                chunk = src_f.read(min(left, 4 * MiB))
                if not chunk:
                    chunk = bytes(min(left, 4 * MiB))  # shrank: pad
                self._w(chunk)
                left -= len(chunk)
            self._pad(st.st_size)
        if st.st_nlink > 1:
            self.inodes[key] = name
        self.files.append(name)
        self.counts["files"] += 1
        self.counts["file_bytes"] += st.st_size
        return st.st_size

    def add_bytes(self, name, data, mode=0o644):
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if parent:
            self.ensure_dir(parent)
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.REGTYPE
        ti.mode = mode
        ti.size = len(data)
        self._header(ti)
        self._w(data)
        self._pad(len(data))
        self.files.append(name)
        self.counts["files"] += 1
        self.counts["file_bytes"] += len(data)

    def add_symlink(self, name, target):
        self.ensure_dir(name.rsplit("/", 1)[0])
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.SYMTYPE
        ti.mode = 0o777
        ti.linkname = target
        self._header(ti)
        self.counts["symlinks"] += 1

    def add_hardlink(self, name, target):
        self.ensure_dir(name.rsplit("/", 1)[0])
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.LNKTYPE
        ti.linkname = target
        self._header(ti)
        self.counts["hardlinks"] += 1

    def add_whiteout(self, path):
        """Deletes PATH of a lower layer: an empty regular file named .wh.<base>."""
        d, base = path.rsplit("/", 1)
        self.ensure_dir(d)
        ti = tarfile.TarInfo(d + "/.wh." + base)
        ti.type = tarfile.REGTYPE
        ti.mode = 0o644
        self._header(ti)
        self.counts["whiteouts"] += 1

    def add_opaque(self, d):
        """Hides everything lower layers have in directory D."""
        self.ensure_dir(d)
        ti = tarfile.TarInfo(d + "/.wh..wh..opq")
        ti.type = tarfile.REGTYPE
        ti.mode = 0o644
        self._header(ti)
        self.counts["opaque"] += 1

    def _pad(self, n):
        if n % 512:
            self._w(bytes(512 - n % 512))

    def close(self):
        self._w(bytes(1024))
        self.f.close()
        self.counts["uncompressed_size"] = self.size
        self.counts["diff_id"] = "sha256:" + self.h.hexdigest()
        return self.counts


def add_tree(layer, src_rel, dest_rel, cap, min_file=0, max_file=None, whole_tree=True):
    """Walks /SRC_REL (sorted, not following symlinks) into LAYER under DEST_REL.

    Regular files outside [min_file, max_file] are skipped; with whole_tree=False only the files
    kept (and their parent directories) are added, not empty directories or symlinks. Stops once
    CAP bytes of file data were added (None: no cap), skipping files that would overshoot it by
    more than 10%. Returns the bytes added."""
    src_root = "/" + src_rel
    if not os.path.isdir(src_root):
        log(f"  (no {src_root} on this machine: skipped)")
        return 0
    added = 0
    for dirpath, dirnames, filenames in os.walk(src_root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        rel = os.path.relpath(dirpath, src_root)
        dest_dir = dest_rel if rel == "." else dest_rel + "/" + rel
        if whole_tree:
            try:
                layer.add_path(dirpath, dest_dir, os.lstat(dirpath))
            except OSError:
                continue
        # symlinks to directories show up in dirnames: add them as symlinks
        entries = sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))])
        for fn in entries:
            src = os.path.join(dirpath, fn)
            try:
                st = os.lstat(src)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                if st.st_size < min_file or (max_file is not None and st.st_size > max_file):
                    continue
                if cap is not None and added + st.st_size > cap * 1.1:
                    continue  # would overshoot the cap by more than 10%: look for a smaller one
            elif not whole_tree:
                continue
            added += layer.add_path(src, dest_dir + "/" + fn, st)
            if cap is not None and added >= cap:
                return added
    return added


def pseudo_random_text(seed, size):
    """Deterministic data that compresses like real content: random runs mixed with text lines."""
    rng = random.Random(seed)
    words = [b"layer", b"snapshot", b"overlay", b"content", b"digest", b"manifest", b"decant",
             b"0x7f454c46", b"return", b"static", b"inline", b"const", b"struct", b"error"]
    out = bytearray()
    while len(out) < size:
        if rng.random() < 0.4:
            out += rng.randbytes(rng.randrange(256, 8192))
        else:
            for _ in range(rng.randrange(8, 64)):
                out += b" ".join(rng.choice(words) for _ in range(rng.randrange(4, 16))) + b"\n"
    return bytes(out[:size])


# ---------------------------------------------------------------------------------------------
# the two kinds
# ---------------------------------------------------------------------------------------------

def build_many_files(tmp, scale):
    def cap(full):
        return None if scale == 1 else int(full * scale)

    layers = []

    # 1: base — /usr/share
    l1 = LayerTar(f"{tmp}/1.tar")
    add_tree(l1, "usr/share", "usr/share", cap(420e6), max_file=MiB)
    layers.append(("base: /usr/share", l1))

    # 2: dev — headers, small libs
    l2 = LayerTar(f"{tmp}/2.tar")
    budget = cap(240e6)
    for src in ("usr/include", "usr/lib/x86_64-linux-gnu", "usr/lib/gcc"):
        got = add_tree(l2, src, src, budget, max_file=MiB)
        if budget is not None:
            budget -= got
            if budget <= 0:
                break
    layers.append(("dev: /usr/include, small files of /usr/lib/x86_64-linux-gnu and gcc", l2))

    # 3: python — stdlib, dist-packages, node_modules, google-cloud-sdk
    l3 = LayerTar(f"{tmp}/3.tar")
    budget = cap(400e6)
    for src in ("usr/lib/python3.11", "usr/lib/python3", "usr/lib/node_modules", "usr/lib/google-cloud-sdk"):
        limit = 260e6 * scale if src.endswith("sdk") else None  # the SDK alone is 370 MB
        if budget is not None:
            limit = budget if limit is None else min(limit, budget)
        got = add_tree(l3, src, src, limit, max_file=MiB)
        if budget is not None:
            budget -= got
            if budget <= 0:
                break
    layers.append(("python: stdlib, dist-packages, node_modules, google-cloud-sdk", l3))

    # 4: toolchain — small files of /opt/swift and package checkouts; deletes and replaces
    l4 = LayerTar(f"{tmp}/4.tar")
    budget = cap(140e6)
    for src in ("opt/swift", "opt/swift-packages"):
        got = add_tree(l4, src, src, budget, max_file=MiB)
        if budget is not None:
            budget -= got
            if budget <= 0:
                break
    # whole directories of layer 1 deleted: every 7th /usr/share/doc/<pkg>
    docs = sorted(d for d in l1.dirs if d.startswith("usr/share/doc/") and d.count("/") == 3)
    for d in docs[::7]:
        l4.add_whiteout(d)
    # single files of layer 1 deleted: every 10th man page
    for f in [f for f in l1.files if f.startswith("usr/share/man/man1/")][::10]:
        l4.add_whiteout(f)
    # an opaque directory over layer 2's usr/include/linux, with new content
    if True:  # present in layer 2 unless a quick cap stopped before it; harmless either way
        l4.add_opaque("usr/include/linux")
        for i in range(40):
            l4.add_bytes(f"usr/include/linux/replaced-{i:02d}.h",
                         (f"/* replaced header {i} */\n#define DECANT_PERF_{i} {i}\n" * 20).encode())
    layers.append(("toolchain: small files of /opt/swift and /opt/swift-packages; whiteouts, opaque dir", l4))

    # 5: app — replicated trees under /srv/app, links, more deletions
    l5 = LayerTar(f"{tmp}/5.tar")
    budget = cap(60e6)
    for src, dest in (("usr/share/man", "srv/app/man"), ("usr/share/zoneinfo", "srv/app/zoneinfo"),
                      ("usr/share/perl", "srv/app/perl"), ("usr/share/perl5", "srv/app/perl5")):
        got = add_tree(l5, src, dest, budget)
        if budget is not None:
            budget -= got
            if budget <= 0:
                break
    # same-layer hardlinks: every 10th replicated file gets a second name
    for i, f in enumerate(l5.files[::10]):
        l5.add_hardlink(f"srv/app/links/{i:05d}", f)
    l5.add_symlink("srv/app/current", "man")
    l5.add_symlink("srv/app/bin/python3", "/usr/bin/python3")
    l5.add_symlink("srv/app/bin/include", "../../../usr/include")
    # layer 3 files deleted (every 20th), and usr/share/locale made opaque with new files
    for f in l3.files[::20]:
        l5.add_whiteout(f)
    l5.add_opaque("usr/share/locale")
    for i in range(200):
        l5.add_bytes(f"usr/share/locale/app-{i:03d}.txt", (f"message {i}\n" * (i + 1)).encode())
    layers.append(("app: /srv/app (man, zoneinfo, perl replicated), hardlinks, symlinks, whiteouts, opaque dir", l5))
    return layers


def build_big_files(tmp, scale):
    def cap(full):
        return int(full * scale)

    specs = [
        ("shared libraries", [("usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")], 600e6),
        ("swift toolchain binaries", [("opt/swift/usr/bin", "opt/swift/usr/bin")], 620e6),
        ("swift libraries, JDK", [("opt/swift/usr/lib", "opt/swift/usr/lib"), ("usr/lib/jvm", "usr/lib/jvm")], 620e6),
        ("LLVM, tf plugin, wheel, cloud sdk",
         [("usr/lib/llvm-14", "usr/lib/llvm-14"), ("opt/tf-plugins", "opt/tf-plugins"),
          ("opt/wheels", "opt/wheels"), ("usr/lib/google-cloud-sdk", "usr/lib/google-cloud-sdk")], 560e6),
    ]
    layers = []
    for i, (title, trees, full) in enumerate(specs, 1):
        layer = LayerTar(f"{tmp}/{i}.tar")
        budget = cap(full)
        for src, dest in trees:
            budget -= add_tree(layer, src, dest, budget, min_file=MiB, whole_tree=False)
            if budget <= 0:
                break
        size = max(MiB, cap(24 * MiB))
        for j in range(2):
            layer.add_bytes(f"srv/data/layer{i}-blob{j}.bin", pseudo_random_text(i * 100 + j, size))
        if i == 4:
            for f in layers[0][1].files[:2]:
                layer.add_whiteout(f)
            layer.add_hardlink("srv/data/layer4-blob0.link", "srv/data/layer4-blob0.bin")
            layer.add_symlink("srv/data/latest", "layer4-blob1.bin")
        layers.append((title, layer))
    return layers


KINDS = {"many-files": build_many_files, "big-files": build_big_files}
QUICK_SCALE = {"many-files": 0.1, "big-files": 0.05}  # --quick: ~140 MB each


# ---------------------------------------------------------------------------------------------
# OCI layout and archive
# ---------------------------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def compress(src, dst, comp):
    cmd = ["pigz", "-6", "-n", "-c", src] if comp == "gzip" else ["zstd", "-3", "-q", "-T0", "-c", src]
    with open(dst, "wb") as out:
        subprocess.run(cmd, stdout=out, check=True)


def write_image(outdir, kind, comp, layers):
    name = f"{kind}-{comp}"
    final = f"{outdir}/{name}"
    work = f"{outdir}/.{name}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    blobs = f"{work}/layout/blobs/sha256"
    os.makedirs(blobs)
    meta_layers = []
    for i, (title, counts, tar_path) in enumerate(layers):
        t0 = time.time()
        tmp = f"{blobs}/.tmp"
        compress(tar_path, tmp, comp)
        hexd = sha256_file(tmp)
        os.rename(tmp, f"{blobs}/{hexd}")
        size = os.path.getsize(f"{blobs}/{hexd}")
        log(f"  {name} layer {i + 1}: {counts['uncompressed_size'] / 1e6:.1f} MB -> {size / 1e6:.1f} MB "
            f"({time.time() - t0:.1f} s)")
        meta_layers.append(dict(counts, index=i, title=title, digest="sha256:" + hexd, size=size,
                                mediaType=GZIP_MT if comp == "gzip" else ZSTD_MT,
                                blob=f"{final}/layout/blobs/sha256/{hexd}"))

    def put(obj):
        b = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        hexd = hashlib.sha256(b).hexdigest()
        with open(f"{blobs}/{hexd}", "wb") as f:
            f.write(b)
        return "sha256:" + hexd, len(b)

    config = {
        "architecture": ARCH,
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [l["diff_id"] for l in meta_layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "decant perf: " + l["title"]}
                    for l in meta_layers],
    }
    cdig, csize = put(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": csize},
        "layers": [{"mediaType": l["mediaType"], "digest": l["digest"], "size": l["size"]} for l in meta_layers],
    }
    mdig, msize = put(manifest)
    image_name = f"docker.io/decant-perf/{name}:latest"
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": mdig, "size": msize,
            "platform": {"architecture": ARCH, "os": "linux"},
            "annotations": {"io.containerd.image.name": image_name,
                            "org.opencontainers.image.ref.name": "latest"},
        }],
    }
    with open(f"{work}/layout/index.json", "w") as f:
        json.dump(index, f, sort_keys=True)
    with open(f"{work}/layout/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    subprocess.run(["tar", "-C", f"{work}/layout", "--owner=0", "--group=0", "--numeric-owner",
                    "-cf", f"{work}/archive.tar", "oci-layout", "index.json", "blobs"], check=True)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(work, final)
    totals = {k: sum(l[k] for l in meta_layers)
              for k in ("entries", "files", "dirs", "symlinks", "hardlinks", "whiteouts", "opaque",
                        "file_bytes", "uncompressed_size", "size")}
    meta = {"image": name, "kind": kind, "compression": comp, "tag": "latest", "imageName": image_name,
            "layout": f"{final}/layout", "archive": f"{final}/archive.tar", "manifest": mdig,
            "config": cdig, "layers": meta_layers, "totals": totals}
    with open(f"{final}/meta.json.tmp", "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    os.rename(f"{final}/meta.json.tmp", f"{final}/meta.json")
    log(f"  {name}: {totals['uncompressed_size'] / 1e6:.0f} MB uncompressed, {totals['entries']} entries, "
        f"{totals['size'] / 1e6:.0f} MB of blobs")


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    outdir = os.path.abspath(args[0])
    quick = "--quick" in args
    kinds = [a for a in args[1:] if not a.startswith("-")] or list(KINDS)
    os.makedirs(outdir, exist_ok=True)
    for kind in kinds:
        if all(os.path.exists(f"{outdir}/{kind}-{c}/meta.json") for c in ("gzip", "zstd")):
            continue
        t0 = time.time()
        scale = QUICK_SCALE[kind] if quick else 1
        tmp = f"{outdir}/.{kind}.layers"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        log(f"building {kind}{' (quick)' if quick else ''} layers from this machine's files")
        built = KINDS[kind](tmp, scale)
        layers = []
        for title, lt in built:
            counts = lt.close()
            log(f"  layer {len(layers) + 1} {title}: {counts['uncompressed_size'] / 1e6:.1f} MB, "
                f"{counts['entries']} entries")
            layers.append((title, counts, lt.path))
        for comp in ("gzip", "zstd"):
            if not os.path.exists(f"{outdir}/{kind}-{comp}/meta.json"):
                write_image(outdir, kind, comp, layers)
        shutil.rmtree(tmp)
        log(f"{kind}: built in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
