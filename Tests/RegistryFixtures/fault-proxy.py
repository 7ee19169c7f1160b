#!/usr/bin/env python3
"""fault-proxy.py — a logging, fault-injecting HTTP proxy in front of a registry, for tests.

Python 3 standard library only. See README.md next to this file for examples.

  fault-proxy.py start --dir DIR --upstream URL [options] [faults]
      Starts `fault-proxy.py serve` in the background (its own session; pid file
      DIR/fault-proxy.pid, stderr DIR/fault-proxy.stderr), waits until it listens, prints ONE
      JSON line and returns:
        {"url": "http://127.0.0.1:PORT", "host": "127.0.0.1:PORT", "log": DIR/fault-proxy.log,
         "redirect_host": "127.0.0.2:PORT2" or null, "redirect_url", "upstream", "pids": [pid],
         "dir"}
      A proxy already running in DIR is an error.
  fault-proxy.py stop --dir DIR       stops it; prints {"stopped": [pids]}
  fault-proxy.py serve ...            the same options, in the foreground

The proxy listens on 127.0.0.1 (--port, default a free one), one thread per connection,
HTTP/1.1 keep-alive, and forwards every request to URL (http, or https with --upstream-ca):
method, path, query, every header but the hop-by-hop ones (Host is the client's, so the
registry's upload Locations point back at the proxy; Authorization and Range pass through),
and the request body (Content-Length or chunked), streaming. Responses stream back in 64 KiB
pieces: nothing is held in memory whole. Upstream answers without Content-Length are sent
chunked.

Every request is logged to DIR/fault-proxy.log as one JSON line:
  {"time", "listener": "main"|"redirect", "method", "path" (with query), "range" (the Range
   header or null), "authorization" (bool: an Authorization header arrived), "status",
   "content_length" (the header sent, or null), "bytes" (body bytes sent), "fault" (null,
   "status", "not-found", "redirect", "cut", "corrupt", "bad-ticket", "auth-on-redirect",
   "ignore-range", "hold"),
   "error" (null, or what went wrong: a client that hung up, an unreachable upstream — 502),
   "duration_ms", and for redirects "location"}

Faults (combinable; checked in this order: status, not-found, redirect; cut and corrupt apply
to blob bodies wherever they are served, main or redirect listener):
  --status CODE [--status-count N] [--status-path-regex R] [--status-method M]
               [--retry-after S|none]
      The first N (default 1) requests whose path (without query) matches R (re.search,
      default: any) and whose method is M (default: any) are answered CODE with a
      registry-style JSON error body (429 TOOMANYREQUESTS, 503 UNAVAILABLE, 500 UNKNOWN,
      401 UNAUTHORIZED, 403 DENIED, 404 NOT_FOUND, other UNKNOWN) and, for 429 and 503,
      `Retry-After: 1` (--retry-after: another value, or none).
  --not-found-repos REGEX
      Manifest, blob and tags/list requests of repositories whose name matches REGEX
      (re.fullmatch) get 404 with registry 2.8's own bodies: MANIFEST_UNKNOWN
      ("manifest unknown", detail {"Tag": ref} or {"Name", "Revision"}), BLOB_UNKNOWN,
      NAME_UNKNOWN. A mirror that lacks the image.
  --redirect-blobs [--redirect-host 127.0.0.2] [--redirect-status 307]
               [--redirect-reject-auth] [--redirect-hops N]
      GET /v2/NAME/blobs/DIGEST is answered 307 with
      `Location: http://127.0.0.2:PORT2/v2/NAME/blobs/DIGEST?ticket=T` — a second listener of
      this proxy on another address, i.e. another host as far as a client knows. It serves the
      blob from upstream using the Authorization header of the request that was redirected
      (like a presigned URL); the ticket stays valid for the proxy's lifetime (unknown ticket:
      403). Whether the client sent an Authorization header there is logged ("authorization"
      on listener "redirect"); it must not. --redirect-reject-auth answers such requests 400,
      as S3 does. HEAD on blobs is not redirected. --redirect-hops N (default 1): the redirect
      listener answers a ticket with another redirect to itself (a new ticket) N-1 times before
      it serves the blob, as a CDN in front of object storage may.
  --cut-after BYTES [--cut-reset]
      The first GET without Range of each blob (by digest) larger than BYTES gets the
      upstream's full headers (real Content-Length), BYTES body bytes, then the connection is
      closed (FIN; --cut-reset: RST via SO_LINGER 0). Later requests of that blob pass
      through untouched; registry 2.8 honours `Range: bytes=N-` with 206, so a resume works.
  --cut-stall SECONDS
      With --cut-after: after the BYTES, send nothing more for SECONDS but keep the connection
      open (a stalled transfer, which only a client's no-progress timeout resumes).
  --hold-headers SECONDS
      The first GET of each blob (by digest) gets no answer at all: the proxy reads the
      request, waits SECONDS, then closes the connection. A server that accepts a request and
      never responds, which only a client's timeout for the response head gets past.
  --ignore-range
      Blob requests reach upstream without their Range header, so a resume is answered 200
      with the whole blob from byte 0, as by a server that does not do ranges.
  --rate BYTES_PER_SECOND
      Blob bodies (GET, 200 or 206) are sent no faster than this, per connection: a slow
      network, whose transfers keep the client waiting for bytes.
  --corrupt-blob DIGEST (repeatable) / --corrupt-blobs-over BYTES
      The byte at offset size/2 of that blob (of every blob larger than BYTES) is XORed with
      0xFF every time it is served (same length; in 206 answers too, if the range covers it).
"""

import argparse
import http.client
import json
import os
import re
import secrets
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_common as fc  # noqa: E402

BLOB_RE = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[a-z0-9]+(?:[+._-][a-z0-9]+)*:"
                     r"[A-Za-z0-9=_-]+)$")
MANIFEST_RE = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
TAGS_RE = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
       "upgrade", "expect", "proxy-authorization", "proxy-authenticate"}
ERROR_CODES = {429: ("TOOMANYREQUESTS", "too many requests"),
               503: ("UNAVAILABLE", "service unavailable"),
               500: ("UNKNOWN", "unknown error"),
               401: ("UNAUTHORIZED", "authentication required"),
               403: ("DENIED", "requested access to the resource is denied"),
               404: ("NOT_FOUND", "not found")}
CHUNK = 65536


class Proxy:
    """State shared by every connection of both listeners."""

    def __init__(self, args):
        self.args = args
        u = urllib.parse.urlsplit(args.upstream)
        if u.scheme not in ("http", "https") or not u.hostname:
            fc.die("--upstream must be http://HOST:PORT or https://HOST:PORT")
        self.up_scheme, self.up_host = u.scheme, u.hostname
        self.up_port = u.port or (443 if u.scheme == "https" else 80)
        self.up_ctx = (ssl.create_default_context(cafile=args.upstream_ca)
                       if u.scheme == "https" else None)
        self.lock = threading.Lock()
        self.cut_done = set()
        self.held = set()
        self.status_left = args.status_count
        self.status_re = re.compile(args.status_path_regex) if args.status_path_regex else None
        self.not_found = re.compile(args.not_found_repos) if args.not_found_repos else None
        self.corrupt = set(args.corrupt_blob or ())
        self.tickets = {}
        self.redirect_base = None  # "http://127.0.0.2:PORT2", set once it listens
        self.log = open(args.log, "a", buffering=1)

    def write_log(self, rec):
        with self.lock:
            self.log.write(json.dumps(rec, sort_keys=True) + "\n")

    def connect(self):
        if self.up_scheme == "https":
            return http.client.HTTPSConnection(self.up_host, self.up_port, timeout=300,
                                               context=self.up_ctx)
        return http.client.HTTPConnection(self.up_host, self.up_port, timeout=300)

    def take_status(self, method, path):
        a = self.args
        if a.status is None:
            return False
        if a.status_method and method != a.status_method:
            return False
        if self.status_re and not self.status_re.search(path):
            return False
        with self.lock:
            if self.status_left <= 0:
                return False
            self.status_left -= 1
            return True

    def take_cut(self, digest, total, has_range):
        a = self.args
        if a.cut_after is None or has_range or total is None or total <= a.cut_after:
            return None
        with self.lock:
            if digest in self.cut_done:
                return None
            self.cut_done.add(digest)
        return a.cut_after

    def corrupts(self, digest, total):
        a = self.args
        return digest in self.corrupt or (a.corrupt_blobs_over is not None and total is not None
                                          and total > a.corrupt_blobs_over)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "decant-fault-proxy"
    proxy = None      # Proxy
    listener = None   # "main" | "redirect"

    def log_message(self, fmt, *args):
        pass

    def do_any(self):
        t0 = time.time()
        self.rec = {"time": t0, "listener": self.listener, "method": self.command,
                    "path": self.path, "range": self.headers.get("Range"),
                    "authorization": self.headers.get("Authorization") is not None,
                    "status": None, "content_length": None, "bytes": 0, "fault": None,
                    "error": None}
        self.sent_headers = False
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
            self.rec["error"] = "client connection: %r" % e
            self.close_connection = True
        except Exception as e:  # upstream unreachable, protocol errors
            self.rec["error"] = "%r" % e
            self.close_connection = True
            if not self.sent_headers:
                try:
                    self.send_registry_error(502, "UNAVAILABLE", "fault-proxy: upstream: %r" % e)
                except OSError:
                    pass
        finally:
            self.rec["duration_ms"] = round((time.time() - t0) * 1000, 1)
            self.proxy.write_log(self.rec)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_any

    # ---- routing ----------------------------------------------------------------------

    def has_body(self):
        return (int(self.headers.get("Content-Length") or 0) > 0 or
                "chunked" in self.headers.get("Transfer-Encoding", "").lower())

    def route(self):
        px, a = self.proxy, self.proxy.args
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        blob = BLOB_RE.match(path)

        if a.hold_headers and blob and self.command == "GET" and self.listener == "main":
            with px.lock:
                first = blob.group("digest") not in px.held
                px.held.add(blob.group("digest"))
            if first:
                self.rec["fault"] = "hold"
                time.sleep(a.hold_headers)
                self.close_connection = True
                return

        if px.take_status(self.command, path):
            self.rec["fault"] = "status"
            code, msg = ERROR_CODES.get(a.status, ("UNKNOWN", "injected status"))
            extra = []
            ra = a.retry_after
            if ra is None and a.status in (429, 503):
                ra = "1"
            if ra and ra != "none":
                extra.append(("Retry-After", ra))
            return self.send_registry_error(a.status, code, msg, extra=extra)

        if self.listener == "redirect":
            return self.serve_ticket(url, blob)

        if px.not_found:
            m = blob or MANIFEST_RE.match(path) or TAGS_RE.match(path)
            if m and px.not_found.fullmatch(m.group("name")):
                self.rec["fault"] = "not-found"
                name = m.group("name")
                if blob:
                    return self.send_registry_error(404, "BLOB_UNKNOWN",
                                                    "blob unknown to registry",
                                                    detail=blob.group("digest"))
                if m.re is TAGS_RE:
                    return self.send_registry_error(404, "NAME_UNKNOWN",
                                                    "repository name not known to registry",
                                                    detail={"name": name})
                ref = m.group("ref")
                detail = ({"Name": name, "Revision": ref} if ":" in ref else {"Tag": ref})
                return self.send_registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown",
                                                detail=detail)

        if a.redirect_blobs and blob and self.command == "GET":
            return self.send_redirect(path, self.path, self.headers.get("Authorization"), a.redirect_hops)

        self.forward(self.path, self.headers.get("Authorization"), blob)

    def serve_ticket(self, url, blob):
        px = self.proxy
        ticket = urllib.parse.parse_qs(url.query).get("ticket", [None])[0]
        with px.lock:
            t = px.tickets.get(ticket)
        if t is None or self.command not in ("GET", "HEAD"):
            self.rec["fault"] = "bad-ticket"
            return self.send_plain(403, b"fault-proxy: unknown or missing ticket\n")
        if self.rec["authorization"] and px.args.redirect_reject_auth:
            self.rec["fault"] = "auth-on-redirect"
            return self.send_plain(400, b"fault-proxy: Only one auth mechanism allowed; an "
                                        b"Authorization header was sent to the redirect host\n")
        upstream_path, auth, hops = t
        if hops > 1:
            return self.send_redirect(url.path, upstream_path, auth, hops - 1)
        self.forward(upstream_path, auth, BLOB_RE.match(urllib.parse.urlsplit(
            upstream_path).path))

    def send_redirect(self, path, upstream_path, auth, hops):
        """Answers --redirect-status to the redirect listener, with a ticket for `hops` more
        hops there (the last one serves the blob)."""
        px = self.proxy
        ticket = secrets.token_urlsafe(12)
        with px.lock:
            px.tickets[ticket] = (upstream_path, auth, hops)
        location = "%s%s?ticket=%s" % (px.redirect_base, path, ticket)
        self.rec["fault"] = "redirect"
        if self.has_body():
            self.close_connection = True
        self.send_response_only(px.args.redirect_status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.end_headers()
        self.sent_headers = True
        self.rec.update(status=px.args.redirect_status, content_length=0, location=location)

    # ---- answers made here ------------------------------------------------------------

    def send_plain(self, status, body, ctype="text/plain; charset=utf-8", extra=()):
        if self.has_body():
            self.close_connection = True  # the request body is not read
        self.send_response_only(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.sent_headers = True
        self.rec.update(status=status, content_length=len(body))
        if self.command != "HEAD":
            self.wfile.write(body)
            self.rec["bytes"] = len(body)

    def send_registry_error(self, status, code, message, detail=None, extra=()):
        err = {"code": code, "message": message}
        if detail is not None:
            err["detail"] = detail
        body = json.dumps({"errors": [err]}, separators=(",", ":")).encode() + b"\n"
        self.send_plain(status, body, "application/json; charset=utf-8",
                        list(extra) + [("Docker-Distribution-Api-Version", "registry/2.0")])

    # ---- forwarding -------------------------------------------------------------------

    def read_chunked(self):
        while True:
            line = self.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            left = size
            while left:
                data = self.rfile.read(min(CHUNK, left))
                if not data:
                    raise ConnectionResetError("client closed inside a chunk")
                left -= len(data)
                yield data
            self.rfile.readline(3)

    def forward(self, upstream_path, auth, blob):
        px, a = self.proxy, self.proxy.args
        conn = px.connect()
        try:
            conn.putrequest(self.command, upstream_path, skip_host=True,
                            skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() in HOP or k.lower() == "authorization":
                    continue
                if k.lower() == "range" and blob and a.ignore_range:
                    self.rec["fault"] = "ignore-range"
                    continue
                conn.putheader(k, v)
            if auth:
                conn.putheader("Authorization", auth)
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                for data in self.read_chunked():
                    conn.send(b"%x\r\n%s\r\n" % (len(data), data))
                conn.send(b"0\r\n\r\n")
            else:
                conn.endheaders()
                left = int(self.headers.get("Content-Length") or 0)
                while left:
                    data = self.rfile.read(min(CHUNK, left))
                    if not data:
                        raise ConnectionResetError("client closed inside the request body")
                    conn.send(data)
                    left -= len(data)
            resp = conn.getresponse()
            self.relay(resp, blob)
        finally:
            conn.close()

    def relay(self, resp, blob):
        px = self.proxy
        status = resp.status
        length = resp.getheader("Content-Length")
        no_body = (self.command == "HEAD" or status in (204, 304) or 100 <= status < 200)
        chunked_out = not no_body and length is None
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
        if chunked_out:
            headers.append(("Transfer-Encoding", "chunked"))

        cut = corrupt_at = None
        start = 0
        if blob and self.command == "GET" and status in (200, 206):
            digest = blob.group("digest")
            total = int(length) if (status == 200 and length is not None) else None
            if status == 206:
                m = CONTENT_RANGE_RE.match(resp.getheader("Content-Range") or "")
                if m:
                    start, total = int(m.group(1)), int(m.group(3))
            cut = px.take_cut(digest, total, self.headers.get("Range") is not None)
            if px.corrupts(digest, total) and total:
                corrupt_at = total // 2

        self.send_response_only(status, resp.reason)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.sent_headers = True
        self.rec.update(status=status, content_length=int(length) if length else None)
        if no_body:
            return

        rate = px.args.rate if blob and self.command == "GET" else None
        began = time.monotonic()
        pos, sent = start, 0
        while True:
            n = CHUNK if cut is None else min(CHUNK, cut - sent)
            if rate:
                n = min(n, max(1, rate // 10))
                ahead = began + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            if n <= 0:
                break
            data = resp.read1(n)
            if not data:
                break
            if corrupt_at is not None and pos <= corrupt_at < pos + len(data):
                b = bytearray(data)
                b[corrupt_at - pos] ^= 0xFF
                data = bytes(b)
                self.rec["fault"] = "corrupt"
            if chunked_out:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            sent += len(data)
            pos += len(data)
            self.rec["bytes"] = sent
        if cut is not None:
            self.rec["fault"] = "cut" if self.rec["fault"] is None else self.rec["fault"] + "+cut"
            self.close_connection = True
            if px.args.cut_stall:
                # Keep the connection open and send nothing more: only a client-side
                # no-progress timeout gets the transfer going again.
                self.rec["fault"] += "+stall"
                self.wfile.flush()
                time.sleep(px.args.cut_stall)
                return
            if px.args.cut_reset:
                # close now with SO_LINGER 0: an RST and no FIN (the server's own shutdown
                # would send a FIN first). Give the kernel a moment to deliver the BYTES
                # already written: an RST discards whatever is still in the send buffer.
                time.sleep(0.05)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            return
        if chunked_out:
            self.wfile.write(b"0\r\n\r\n")
        if length is not None and sent != int(length):
            self.rec["error"] = "upstream sent %d of %s bytes" % (sent, length)
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def handler_for(proxy, listener):
    return type("Handler_" + listener, (Handler,), {"proxy": proxy, "listener": listener})


def serve(args):
    proxy = Proxy(args)
    main_srv = Server((args.host, args.port), handler_for(proxy, "main"))
    host = "%s:%d" % (args.host, main_srv.server_address[1])
    info = {"url": "http://" + host, "host": host, "log": os.path.abspath(args.log),
            "redirect_host": None, "redirect_url": None, "upstream": args.upstream,
            "pids": [os.getpid()]}
    servers = [main_srv]
    if args.redirect_blobs:
        try:
            red = Server((args.redirect_host, 0), handler_for(proxy, "redirect"))
        except OSError as e:
            fc.die("cannot listen on %s: %s" % (args.redirect_host, e))
        rhost = "%s:%d" % (args.redirect_host, red.server_address[1])
        proxy.redirect_base = "http://" + rhost
        info.update(redirect_host=rhost, redirect_url="http://" + rhost)
        servers.append(red)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if args.dir:
        info["dir"] = os.path.abspath(args.dir)
    return fc.announce_and_serve(main_srv, info, args.ready_file)


def cmd_start(args, argv):
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    pidfile = os.path.join(d, "fault-proxy.pid")
    rec = fc.running_from_pidfile(pidfile)
    if rec:
        fc.die("fault-proxy already runs in %s (pid %d); stop it first" % (d, rec["pid"]))
    ready = os.path.join(d, "fault-proxy.json")
    if os.path.exists(ready):
        os.unlink(ready)
    cmd = [sys.executable, os.path.abspath(__file__), "serve"] + argv + ["--ready-file", ready]
    slog = os.path.join(d, "fault-proxy.stderr")
    proc = fc.spawn(cmd, slog)
    fc.write_pidfile(pidfile, proc.pid, cmd)
    try:
        info = fc.wait_ready_file(ready, proc, slog)
    except BaseException:
        fc.stop_pidfiles([pidfile])
        raise
    fc.print_json(info)
    return 0


def main():
    ap = argparse.ArgumentParser(description="fault-injecting proxy in front of a registry")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stop")
    s.add_argument("--dir", required=True)
    for name in ("start", "serve"):
        s = sub.add_parser(name)
        s.add_argument("--dir", required=(name == "start"),
                       help="pid file, JSON, logs (start); log location default (serve)")
        s.add_argument("--upstream", required=True, help="http://HOST:PORT of the registry")
        s.add_argument("--upstream-ca", help="CA file when the upstream is https")
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, default=0)
        s.add_argument("--log", help="request log (default DIR/fault-proxy.log)")
        s.add_argument("--ready-file", help=argparse.SUPPRESS)
        s.add_argument("--status", type=int)
        s.add_argument("--status-count", type=int, default=1)
        s.add_argument("--status-path-regex")
        s.add_argument("--status-method")
        s.add_argument("--retry-after")
        s.add_argument("--not-found-repos", metavar="REGEX")
        s.add_argument("--redirect-blobs", action="store_true")
        s.add_argument("--redirect-host", default="127.0.0.2")
        s.add_argument("--redirect-status", type=int, default=307)
        s.add_argument("--redirect-reject-auth", action="store_true")
        s.add_argument("--redirect-hops", type=int, default=1)
        s.add_argument("--ignore-range", action="store_true")
        s.add_argument("--hold-headers", type=float, default=0)
        s.add_argument("--cut-after", type=int, metavar="BYTES")
        s.add_argument("--cut-reset", action="store_true")
        s.add_argument("--cut-stall", type=float, metavar="SECONDS", default=0,
                       help="after the cut bytes, hold the connection open silently for SECONDS instead of closing it")
        s.add_argument("--rate", type=int, metavar="BYTES_PER_SECOND",
                       help="send blob bodies no faster than this, per connection")
        s.add_argument("--corrupt-blob", action="append", metavar="DIGEST")
        s.add_argument("--corrupt-blobs-over", type=int, metavar="BYTES")
    args = ap.parse_args()
    if args.cmd == "stop":
        d = os.path.abspath(args.dir)
        fc.print_json({"stopped": fc.stop_pidfiles([os.path.join(d, "fault-proxy.pid")])})
        return 0
    if args.log is None:
        if not args.dir:
            ap.error("serve needs --log or --dir")
        args.log = os.path.join(os.path.abspath(args.dir), "fault-proxy.log")
    if args.cmd == "start":
        argv = sys.argv[sys.argv.index("start") + 1:]
        if "--log" not in argv and not any(x.startswith("--log=") for x in argv):
            argv += ["--log", args.log]
        return cmd_start(args, argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
