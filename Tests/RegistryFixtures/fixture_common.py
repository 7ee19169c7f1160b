"""fixture_common.py — helpers shared by registry.py, token-server.py and fault-proxy.py.

Not a script. Python 3 standard library only, plus the `openssl` command for certificates.

Background processes: `spawn` starts a command in its own session (so that neither ^C nor the
end of the starting process reaches it) with stdin from /dev/null and stdout/stderr appended to
a log file: the caller's stdout is never inherited, so a test that reads `start`'s output to EOF
is not kept waiting by the server. Every process is recorded in DIR/NAME.pid as JSON
{"pid", "starttime", "cmd"}; starttime (field 22 of /proc/PID/stat) guards `stop` against a pid
that was reused by an unrelated process after ours died.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def die(msg, code=1):
    sys.stderr.write("%s: %s\n" % (os.path.basename(sys.argv[0]), msg))
    sys.exit(code)


def print_json(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind port 0, read it, close). Racy by nature: callers
    that hand it to another program retry when that program cannot bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---- processes ------------------------------------------------------------------------------

def _stat(pid):
    """(state, starttime) of a process, or None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], fields[19]  # state is field 3, starttime field 22 of the whole line


def starttime(pid):
    st = _stat(pid)
    return st[1] if st else None


def alive(pid, start=None):
    """True if pid runs (not a zombie) and, when start is given, is the process we recorded."""
    st = _stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return start is None or st[1] == start


def spawn(cmd, log_path, cwd=None, env=None):
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, env=env, start_new_session=True, close_fds=True)
    finally:
        log.close()


def write_pidfile(path, pid, cmd):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"pid": pid, "starttime": starttime(pid), "cmd": cmd}, f)
        f.write("\n")
    os.replace(tmp, path)


def read_pidfile(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def running_from_pidfile(path):
    rec = read_pidfile(path)
    if rec and alive(rec["pid"], rec.get("starttime")):
        return rec
    return None


def stop_pidfiles(paths, timeout=5.0):
    """SIGTERM every recorded process that still runs, SIGKILL what is left after timeout
    seconds, remove the pid files. Returns the pids that were signalled."""
    recs = []
    for path in paths:
        rec = read_pidfile(path)
        if rec and alive(rec["pid"], rec.get("starttime")):
            try:
                os.kill(rec["pid"], signal.SIGTERM)
                recs.append(rec)
            except ProcessLookupError:
                pass
    deadline = time.time() + timeout
    while time.time() < deadline and any(alive(r["pid"], r.get("starttime")) for r in recs):
        time.sleep(0.05)
    for r in recs:
        if alive(r["pid"], r.get("starttime")):
            try:
                os.kill(r["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(r["pid"], r.get("starttime")) for r in recs):
        time.sleep(0.05)
    left = [r["pid"] for r in recs if alive(r["pid"], r.get("starttime"))]
    if left:
        die("processes %s did not die" % left)
    for path in paths:
        for p in (path, path + ".tmp"):
            if os.path.exists(p):
                os.unlink(p)
    return [r["pid"] for r in recs]


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except FileNotFoundError:
        return "(no %s)" % path


def wait_ready_file(path, proc, log_path, timeout=30.0):
    """Wait until a server spawned with --ready-file has written its JSON there."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        if proc.poll() is not None:
            die("%s exited with status %s; last log lines:\n%s"
                % (proc.args[1] if len(proc.args) > 1 else proc.args[0], proc.returncode,
                   tail(log_path)))
        time.sleep(0.05)
    die("no %s after %.0f s; last log lines:\n%s" % (path, timeout, tail(log_path)))


def write_ready_file(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


# ---- HTTP -----------------------------------------------------------------------------------

def announce_and_serve(server, info, ready_file):
    """Prints a server's JSON description, hands it to a waiting `start` through `ready_file`,
    then serves until interrupted."""
    print(json.dumps(info, sort_keys=True), flush=True)
    if ready_file:
        write_ready_file(ready_file, info)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def http_status(url, cafile=None, timeout=2.0):
    """Status of GET url, or None if nothing answers (connection refused, TLS not up yet)."""
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


# ---- openssl --------------------------------------------------------------------------------

OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[signer_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
"""


def openssl(*args):
    r = subprocess.run(("openssl",) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        die("openssl %s failed:\n%s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout


def _cnf(d):
    path = os.path.join(d, "openssl.cnf")
    with open(path, "w") as f:
        f.write(OPENSSL_CNF)
    return path


def make_tls(d):
    """In directory d: ca.key/ca.crt (a CA), server.key/server.crt (signed by it, SAN
    IP:127.0.0.1 and DNS:localhost), and d/cadir/ca.crt alone (a directory to hand to
    skopeo --*-cert-dir: containers/image treats every *.key there as a client key and fails
    without its *.cert, so the CA key must not be next to it). Returns the paths."""
    os.makedirs(d, exist_ok=True)
    cnf = _cnf(d)
    p = {k: os.path.join(d, k) for k in ("ca.key", "ca.crt", "server.key", "server.csr",
                                         "server.crt")}
    openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
            "-config", cnf, "-extensions", "ca_ext", "-subj", "/CN=Decant test CA",
            "-keyout", p["ca.key"], "-out", p["ca.crt"])
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-config", cnf,
            "-subj", "/CN=localhost", "-keyout", p["server.key"], "-out", p["server.csr"])
    openssl("x509", "-req", "-in", p["server.csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
            "-set_serial", "0x" + os.urandom(8).hex(), "-days", "3650", "-sha256",
            "-extfile", cnf, "-extensions", "server_ext", "-out", p["server.crt"])
    cadir = os.path.join(d, "cadir")
    os.makedirs(cadir, exist_ok=True)
    with open(p["ca.crt"], "rb") as src, open(os.path.join(cadir, "ca.crt"), "wb") as dst:
        dst.write(src.read())
    return {"ca": p["ca.crt"], "cadir": cadir, "cert": p["server.crt"], "key": p["server.key"]}


def make_signer(d, cn="Decant token signer"):
    """Self-signed RSA 2048 key+cert for signing tokens: d/token.key, d/token.crt."""
    os.makedirs(d, exist_ok=True)
    cnf = _cnf(d)
    key, crt = os.path.join(d, "token.key"), os.path.join(d, "token.crt")
    openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
            "-config", cnf, "-extensions", "signer_ext", "-subj", "/CN=" + cn,
            "-keyout", key, "-out", crt)
    return {"key": key, "cert": crt}
