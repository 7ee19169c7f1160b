#!/usr/bin/env python3
"""registry.py — start/stop a real Debian docker-registry (distribution 2.8) for tests; push to it.

Python 3 standard library plus the commands docker-registry, skopeo, htpasswd (apache2-utils)
and openssl. See README.md next to this file for examples and for what registry 2.8 does.

  registry.py start --dir DIR --mode plain|basic-tls|token [options]
      Starts docker-registry on 127.0.0.1 and a free port (storage DIR/storage, config
      DIR/config.yml, log DIR/registry.log — level warn plus the access log, pid file
      DIR/registry.pid), waits until GET /v2/ answers 200 or 401, prints ONE JSON line and
      returns; the registry keeps running. DIR is created; a registry already running there
      is an error (stop it first). Storage is kept across stop/start.
        plain      HTTP, no auth.
                   {"mode","url":"http://127.0.0.1:PORT","host":"127.0.0.1:PORT","pids":[..],
                    "dir","storage","log","config"}
        basic-tls  HTTPS (DIR/tls: a CA, and a server certificate for IP:127.0.0.1 and
                   DNS:localhost signed by it) + htpasswd basic auth (bcrypt, DIR/htpasswd).
                   Adds "ca" (PEM file), "ca_dir" (a directory holding only ca.crt, for
                   skopeo --*-cert-dir), "user", "password".
        token      auth: token (DIR/token: a self-signed signing key/cert, the cert is the
                   rootcertbundle) + token-server.py on another free port (pid file
                   DIR/token-server.pid, request log DIR/token-log.jsonl). HTTP unless --tls.
                   Adds "realm", "service", "issuer", "user", "password", "token_log",
                   "token_url" (+ "ca", "ca_dir" with --tls).
      Options:
        --user U --password P      credentials (default decant / decant-secret)
        --tls                      token mode over HTTPS too (basic-tls is always HTTPS)
        --expires-in N             token lifetime in seconds (default 300)
        --anonymous-pull           token mode: tokens without credentials, pull only
        --deny-repos REGEX         token mode: tokens grant nothing on matching repositories
        --no-oauth                 token mode: the token service answers POST with 404
        --pull-through URL         (alias --upstream-for) make this registry a pull-through
                                   cache of the registry at URL (distribution's proxy.remoteurl;
                                   pushes are then refused with 405 UNSUPPORTED)
        --pull-through-creds U:P   credentials it uses against URL
  registry.py stop --dir DIR
      Stops the registry and token service started in DIR (SIGTERM, SIGKILL after 5 s).
      Prints {"stopped":[pids]}. Not running is not an error. Does not stop a fault-proxy.py
      started in the same DIR (use fault-proxy.py stop for that).
  registry.py push --registry-host HOST --src SRC --dest REPO:TAG [--all] [--creds U:P]
                   [--ca CAFILE]
      `skopeo --insecure-policy copy --preserve-digests` from SRC (a skopeo reference, e.g.
      oci:LAYOUT:TAG) to docker://HOST/REPO:TAG. Without --ca: --dest-tls-verify=false
      (plain HTTP, or HTTPS unverified); with --ca: a temporary cert dir holding CAFILE as
      ca.crt. --all pushes every manifest of an index and the index itself (without it skopeo
      pushes only the manifest of this machine's platform). Prints the pushed digest (the
      index's with --all): equal to the layout's because of --preserve-digests. skopeo's
      progress goes to stderr.
  registry.py push-corpus --registry-host HOST --images OUTDIR [--prefix decant-fixtures]
                   [--creds U:P] [--ca CAFILE] [--dir DIR]
      Pushes every image of make-images.py's OUTDIR/images.json as PREFIX/NAME:latest (the
      platforms image with --all). Images skopeo refuses to push (bad-layer-digest: the
      registry checks the digest; missing-blob; schema1: skopeo cannot read that layout) are
      written straight into the registry's storage when --dir (the registry's DIR) is given,
      else skipped. Prints {"NAME": {"ref","digest","how":"skopeo"|"seeded"|"skipped",
      "error"}}.
  registry.py seed --dir DIR --src LAYOUT[:TAG] --dest REPO:TAG
      Writes an OCI layout's image (manifest or index and everything it references that exists
      in the layout) straight into DIR/storage in distribution's filesystem layout, with no
      validation: a blob stored under a digest its bytes do not have is served as is, a blob
      missing from the layout is missing from the registry. The registry may run meanwhile
      (this config has no cache). Prints the tagged digest.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_common as fc  # noqa: E402

SERVICE = "decant-registry"
ISSUER = "decant-token-issuer"
BASIC_REALM = "decant-registry"
PIDFILES = ("registry.pid", "token-server.pid")


def registry_config(args, d, port, tls, token):
    y = []
    q = json.dumps  # a JSON string is a YAML double-quoted scalar
    y += ["version: 0.1",
          "log:",
          "  level: warn",
          "  formatter: text",
          "  accesslog:",
          "    disabled: false",
          "storage:",
          "  filesystem:",
          "    rootdirectory: " + q(os.path.join(d, "storage")),
          "  delete:",
          "    enabled: true",
          "  maintenance:",
          "    uploadpurging:",
          "      enabled: false",
          "http:",
          "  addr: " + q("127.0.0.1:%d" % port),
          "  secret: " + q("decant-fixture-" + os.urandom(8).hex()),
          "  headers:",
          "    X-Content-Type-Options: [nosniff]"]
    if tls:
        y += ["  tls:",
              "    certificate: " + q(tls["cert"]),
              "    key: " + q(tls["key"])]
    if args.mode == "basic-tls":
        y += ["auth:",
              "  htpasswd:",
              "    realm: " + q(BASIC_REALM),
              "    path: " + q(os.path.join(d, "htpasswd"))]
    elif args.mode == "token":
        y += ["auth:",
              "  token:",
              "    realm: " + q(token["realm"]),
              "    service: " + q(SERVICE),
              "    issuer: " + q(ISSUER),
              "    rootcertbundle: " + q(token["cert"])]
    if args.pull_through:
        y += ["proxy:",
              "  remoteurl: " + q(args.pull_through)]
        if args.pull_through_creds:
            u, _, p = args.pull_through_creds.partition(":")
            y += ["  username: " + q(u), "  password: " + q(p)]
    y += ["health:",
          "  storagedriver:",
          "    enabled: false"]
    return "\n".join(y) + "\n"


def cmd_start(args):
    try:
        return start(args)
    except BaseException:
        # whatever failed, leave nothing running behind (a registry already running there
        # before is refused before anything is started, so it is not touched)
        if not getattr(args, "_refused", False):
            fc.stop_pidfiles([os.path.join(os.path.abspath(args.dir), n) for n in PIDFILES])
        raise


def start(args):
    d = os.path.abspath(args.dir)
    os.makedirs(os.path.join(d, "storage"), exist_ok=True)
    for name in PIDFILES:
        rec = fc.running_from_pidfile(os.path.join(d, name))
        if rec:
            args._refused = True
            fc.die("%s already runs in %s (pid %d); stop it first" % (name[:-4], d, rec["pid"]))
    for tool in ("docker-registry", "openssl") + (("htpasswd",) if args.mode == "basic-tls"
                                                  else ()):
        if not shutil.which(tool):
            fc.die("%s not found" % tool)

    info = {"mode": args.mode, "dir": d, "storage": os.path.join(d, "storage"),
            "log": os.path.join(d, "registry.log"), "config": os.path.join(d, "config.yml")}
    pids = []
    tls = None
    if args.mode == "basic-tls" or args.tls:
        tls = fc.make_tls(os.path.join(d, "tls"))
        info.update(ca=tls["ca"], ca_dir=tls["cadir"])
    if args.mode == "basic-tls":
        r = subprocess.run(["htpasswd", "-Bbn", args.user, args.password],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            fc.die("htpasswd failed: " + r.stderr.decode(errors="replace"))
        with open(os.path.join(d, "htpasswd"), "wb") as f:
            f.write(r.stdout)
        info.update(user=args.user, password=args.password, realm=BASIC_REALM)

    token = None
    if args.mode == "token":
        signer = fc.make_signer(os.path.join(d, "token"))
        token_log = os.path.join(d, "token-log.jsonl")
        ready = os.path.join(d, "token-server.json")
        if os.path.exists(ready):
            os.unlink(ready)
        cmd = [sys.executable, os.path.join(fc.HERE, "token-server.py"),
               "--key", signer["key"], "--cert", signer["cert"], "--issuer", ISSUER,
               "--service", SERVICE, "--user", args.user, "--password", args.password,
               "--log", token_log, "--expires-in", str(args.expires_in), "--ready-file", ready]
        if args.anonymous_pull:
            cmd.append("--anonymous-pull")
        if args.deny_repos:
            cmd += ["--deny-repos", args.deny_repos]
        if args.no_oauth:
            cmd.append("--no-oauth")
        slog = os.path.join(d, "token-server.stderr")
        proc = fc.spawn(cmd, slog)
        fc.write_pidfile(os.path.join(d, "token-server.pid"), proc.pid, cmd)
        tinfo = fc.wait_ready_file(ready, proc, slog)
        pids.append(proc.pid)
        token = {"realm": tinfo["realm"], "cert": signer["cert"]}
        info.update(realm=tinfo["realm"], service=SERVICE, issuer=ISSUER, user=args.user,
                    password=args.password, token_log=token_log, token_url=tinfo["url"],
                    token_cert=signer["cert"])

    scheme = "https" if tls else "http"
    log = info["log"]
    for attempt in range(5):
        port = fc.free_port()
        with open(info["config"], "w") as f:
            f.write(registry_config(args, d, port, tls, token))
        log_start = os.path.getsize(log) if os.path.exists(log) else 0
        cmd = ["docker-registry", "serve", info["config"]]
        proc = fc.spawn(cmd, log, cwd=d)
        fc.write_pidfile(os.path.join(d, "registry.pid"), proc.pid, cmd)
        url = "%s://127.0.0.1:%d" % (scheme, port)
        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                break
            if fc.http_status(url + "/v2/", cafile=tls["ca"] if tls else None) in (200, 401):
                break
            time.sleep(0.05)
        if proc.poll() is None and time.time() < deadline:
            pids.append(proc.pid)
            info.update(url=url, host="127.0.0.1:%d" % port, pids=pids)
            fc.print_json(info)
            return 0
        with open(log, "rb") as f:
            f.seek(log_start)
            out = f.read().decode(errors="replace")
        if proc.poll() is not None and "address already in use" in out:
            continue  # lost the race for the port: try another
        fc.stop_pidfiles([os.path.join(d, n) for n in PIDFILES])
        fc.die("docker-registry did not answer GET %s/v2/; last log lines:\n%s"
               % (url, fc.tail(log)))
    fc.stop_pidfiles([os.path.join(d, n) for n in PIDFILES])
    fc.die("docker-registry could not bind a free port 5 times")


def cmd_stop(args):
    d = os.path.abspath(args.dir)
    stopped = fc.stop_pidfiles([os.path.join(d, n) for n in PIDFILES])
    fc.print_json({"stopped": stopped})
    return 0


def skopeo_push(host, src, dest, all_=False, creds=None, ca=None):
    """Returns (digest, None) or (None, error text)."""
    with tempfile.TemporaryDirectory(prefix="decant-push.") as tmp:
        digestfile = os.path.join(tmp, "digest")
        cmd = ["skopeo", "--insecure-policy", "copy", "--preserve-digests",
               "--digestfile", digestfile]
        if all_:
            cmd.append("--all")
        if ca:
            certdir = os.path.join(tmp, "certs")
            os.makedirs(certdir)
            shutil.copyfile(ca, os.path.join(certdir, "ca.crt"))
            cmd += ["--dest-cert-dir", certdir, "--dest-tls-verify=true"]
        else:
            cmd.append("--dest-tls-verify=false")
        if creds:
            cmd += ["--dest-creds", creds]
        else:
            cmd.append("--dest-no-creds")
        cmd += [src, "docker://%s/%s" % (host, dest)]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sys.stderr.write(r.stdout.decode(errors="replace"))
        if r.returncode != 0:
            lines = r.stdout.decode(errors="replace").strip().splitlines()
            return None, (lines[-1] if lines else "skopeo exited %d" % r.returncode)
        with open(digestfile) as f:
            return f.read().strip(), None


def cmd_push(args):
    digest, err = skopeo_push(args.registry_host, args.src, args.dest, args.all, args.creds,
                              args.ca)
    if err:
        fc.die("push failed: " + err)
    print(digest)
    return 0


# ---- seeding storage ------------------------------------------------------------------------

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


def seed(storage, layout, tag, repo, dest_tag):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    top = None
    for m in index.get("manifests", []):
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            top = m
    if top is None:
        fc.die("%s: no manifest with ref.name %r" % (layout, tag))
    v2 = os.path.join(storage, "docker", "registry", "v2")
    rdir = os.path.join(v2, "repositories", repo)

    def blob_bytes(digest):
        p = os.path.join(layout, "blobs", *digest.split(":", 1))
        try:
            with open(p, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def put_blob(digest, data):
        alg, hexd = digest.split(":", 1)
        bdir = os.path.join(v2, "blobs", alg, hexd[:2], hexd)
        os.makedirs(bdir, exist_ok=True)
        with open(os.path.join(bdir, "data.tmp"), "wb") as f:
            f.write(data)
        os.replace(os.path.join(bdir, "data.tmp"), os.path.join(bdir, "data"))

    def link(path, digest):
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "link"), "w") as f:
            f.write(digest)

    def add_manifest(desc):
        data = blob_bytes(desc["digest"])
        if data is None:
            return
        put_blob(desc["digest"], data)
        alg, hexd = desc["digest"].split(":", 1)
        link(os.path.join(rdir, "_manifests", "revisions", alg, hexd), desc["digest"])
        doc = json.loads(data)
        mt = doc.get("mediaType") or desc.get("mediaType")
        children = []
        if mt in INDEX_TYPES:
            for m in doc.get("manifests", []):
                add_manifest(m)
            return
        if doc.get("schemaVersion") == 1:
            children = [{"digest": l["blobSum"]} for l in doc.get("fsLayers", [])]
        else:
            children = ([doc["config"]] if "config" in doc else []) + doc.get("layers", [])
        for c in children:
            b = blob_bytes(c["digest"])
            if b is None:
                continue  # missing from the layout: missing from the registry
            put_blob(c["digest"], b)
            a, h = c["digest"].split(":", 1)
            link(os.path.join(rdir, "_layers", a, h), c["digest"])

    add_manifest(top)
    alg, hexd = top["digest"].split(":", 1)
    tdir = os.path.join(rdir, "_manifests", "tags", dest_tag)
    link(os.path.join(tdir, "index", alg, hexd), top["digest"])
    link(os.path.join(tdir, "current"), top["digest"])
    return top["digest"]


def split_ref(ref):
    m = re.fullmatch(r"(.+?)(?::([\w][\w.-]*))?", ref)
    return m.group(1), m.group(2) or "latest"


def cmd_seed(args):
    layout, tag = args.src, "latest"
    if ":" in os.path.basename(layout):
        layout, tag = layout.rsplit(":", 1)
    repo, dest_tag = split_ref(args.dest)
    print(seed(os.path.join(os.path.abspath(args.dir), "storage"), layout, tag, repo, dest_tag))
    return 0


def cmd_push_corpus(args):
    with open(os.path.join(args.images, "images.json")) as f:
        images = json.load(f)["images"]
    out = {}
    for im in images:
        name = im["name"]
        ref = "%s/%s:latest" % (args.prefix, name)
        layout = os.path.join(os.path.abspath(args.images), im["layout"])
        digest, err = skopeo_push(args.registry_host, "oci:%s:latest" % layout, ref,
                                  all_=bool(im.get("indexDigest")), creds=args.creds,
                                  ca=args.ca)
        if digest:
            out[name] = {"ref": ref, "digest": digest, "how": "skopeo", "error": None}
        elif args.dir:
            digest = seed(os.path.join(os.path.abspath(args.dir), "storage"), layout, "latest",
                          "%s/%s" % (args.prefix, name), "latest")
            out[name] = {"ref": ref, "digest": digest, "how": "seeded", "error": err}
        else:
            out[name] = {"ref": ref, "digest": None, "how": "skipped", "error": err}
    fc.print_json(out)
    return 0


def main():
    ap = argparse.ArgumentParser(description="start/stop a docker-registry for tests; push to it")
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("start")
    s.add_argument("--dir", required=True)
    s.add_argument("--mode", required=True, choices=("plain", "basic-tls", "token"))
    s.add_argument("--user", default="decant")
    s.add_argument("--password", default="decant-secret")
    s.add_argument("--tls", action="store_true", help="token mode over HTTPS")
    s.add_argument("--expires-in", type=int, default=300)
    s.add_argument("--anonymous-pull", action="store_true")
    s.add_argument("--deny-repos")
    s.add_argument("--no-oauth", action="store_true")
    s.add_argument("--pull-through", "--upstream-for", dest="pull_through", metavar="URL")
    s.add_argument("--pull-through-creds", metavar="U:P")

    s = sub.add_parser("stop")
    s.add_argument("--dir", required=True)

    s = sub.add_parser("push")
    s.add_argument("--registry-host", required=True)
    s.add_argument("--src", required=True, help="skopeo source, e.g. oci:LAYOUT:TAG")
    s.add_argument("--dest", required=True, help="REPO:TAG")
    s.add_argument("--all", action="store_true")
    s.add_argument("--creds")
    s.add_argument("--ca")

    s = sub.add_parser("push-corpus")
    s.add_argument("--registry-host", required=True)
    s.add_argument("--images", required=True, help="make-images.py OUTDIR")
    s.add_argument("--prefix", default="decant-fixtures")
    s.add_argument("--creds")
    s.add_argument("--ca")
    s.add_argument("--dir", help="the registry's DIR: seed what skopeo cannot push")

    s = sub.add_parser("seed")
    s.add_argument("--dir", required=True)
    s.add_argument("--src", required=True, help="LAYOUT[:TAG]")
    s.add_argument("--dest", required=True, help="REPO[:TAG]")

    args = ap.parse_args()
    if args.cmd == "start" and args.tls and args.mode != "token":
        ap.error("--tls is for --mode token (basic-tls is HTTPS already, plain is HTTP)")
    return {"start": cmd_start, "stop": cmd_stop, "push": cmd_push, "seed": cmd_seed,
            "push-corpus": cmd_push_corpus}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
