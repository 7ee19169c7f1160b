#!/usr/bin/env python3
"""token-server.py — a minimal Docker registry token service, for tests.

Usage:
  python3 Tests/RegistryFixtures/token-server.py --key KEY.pem --cert CERT.pem
        --issuer ISSUER --service SERVICE --user USER --password PASSWORD --log TOKENLOG
        [--host 127.0.0.1] [--port 0] [--ready-file PATH] [--expires-in 300]
        [--anonymous-pull] [--deny-repos REGEX] [--no-oauth]

Runs in the foreground (registry.py --mode token starts it in the background). Python 3
standard library plus the `openssl` command. Once listening it prints one JSON line
{"url", "realm", "host", "port", "pid"} on stdout and, with --ready-file, writes the same JSON
to that file (atomically).

Implements distribution's token authentication spec (docs/spec/auth/token.md, jwt.md, oauth.md):

  GET /token?service=SERVICE&scope=repository:NAME:pull,push[&scope=...][&account=...]
      HTTP Basic credentials optional. Credentials sent and not USER/PASSWORD -> 401 with
      `WWW-Authenticate: Basic realm="decant-token-service"` and {"details": "incorrect
      username or password"}. No credentials: 401 as well, unless --anonymous-pull, which
      grants "pull" only (push/delete/* are dropped from the token's access). A wrong or
      missing service -> 400. Answer:
      {"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": RFC 3339 UTC}
  POST /token  (OAuth2, form-encoded; containerd tries it first when it has a password)
      grant_type=password (username, password, service, scope = space-separated scopes,
      client_id, access_type=offline for a refresh_token) or grant_type=refresh_token
      (refresh_token, service, scope). Answer {"access_token", "token", "expires_in",
      "issued_at", "scope"[, "refresh_token"]}. --no-oauth answers every POST with 404 (what
      the Docker-Hub-like services without OAuth do; containerd then falls back to GET).

Authenticated users get every requested action on every repository (pull, push, delete, *),
except repositories whose name matches --deny-repos (re.fullmatch): those get an empty
actions list, so the registry answers 401 error="insufficient_scope". Non-repository scopes
(e.g. registry:catalog:*) are granted to authenticated users as requested.

Tokens: JWT, RS256, signed by `openssl dgst -sha256 -sign KEY` (PKCS#1 v1.5 over SHA-256 = RS256).
Header {"alg":"RS256","typ":"JWT","x5c":[base64 DER of CERT]}: registry 2.8 checks that chain
against its auth.token.rootcertbundle, which must be CERT (self-signed is fine: the leaf is
itself a root). Claims: iss, sub (the user, "" when anonymous), aud (SERVICE, a string),
exp = iat + expires_in, nbf = iat, iat, jti (random), access = [{type, name, actions}].
Registry 2.8 accepts a token up to 60 s after exp (token.Leeway), so a short --expires-in is
visible to a client that honours expires_in, but an expired token is not refused at once.

Every request to /token is logged to TOKENLOG as one JSON line:
  {"time", "method", "path", "grant_type" (POST), "service", "scopes" (as requested),
   "account", "user" (the name sent, even if wrong; null when none), "credentials" (bool:
   Basic credentials or a password/refresh_token grant were sent), "status",
   "access" (granted; null on error), "expires_in", "jti", "error"}
"""

import argparse
import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_common as fc  # noqa: E402

BASIC_REALM = "decant-token-service"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def cert_der_b64(cert_path):
    """The base64 (standard alphabet, padded) DER of the first certificate of a PEM file: the
    body of the PEM block, which is exactly x5c's encoding."""
    with open(cert_path) as f:
        pem = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
    if not m:
        fc.die("no certificate in %s" % cert_path)
    return "".join(m.group(1).split())


def parse_scope(s):
    """type:name:actions — name may contain ':' (a registry host with a port never appears
    here, but be lenient): type up to the first ':', actions after the last."""
    if s.count(":") < 2:
        return None
    typ, rest = s.split(":", 1)
    name, actions = rest.rsplit(":", 1)
    return {"type": typ, "name": name, "actions": [a for a in actions.split(",") if a]}


class TokenService:
    def __init__(self, args):
        self.args = args
        self.x5c = cert_der_b64(args.cert)
        self.deny = re.compile(args.deny_repos) if args.deny_repos else None
        self.log_lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1)
        self.refresh = {}  # refresh_token -> user
        self.refresh_lock = threading.Lock()

    def write_log(self, rec):
        with self.log_lock:
            self.log.write(json.dumps(rec, sort_keys=True) + "\n")

    def sign(self, claims):
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.args.key],
                           input=signing_input.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("openssl dgst -sign failed: " + r.stderr.decode(errors="replace"))
        return signing_input + "." + b64url(r.stdout)

    def grant(self, scopes, user):
        """The access list for the requested scopes; user None = anonymous."""
        access = []
        for s in scopes:
            sc = parse_scope(s)
            if sc is None:
                continue
            actions = sc["actions"]
            if user is None:
                actions = [a for a in actions if a == "pull"] if sc["type"] == "repository" else []
            elif sc["type"] == "repository" and self.deny and self.deny.fullmatch(sc["name"]):
                actions = []
            access.append({"type": sc["type"], "name": sc["name"], "actions": actions})
        return access

    def issue(self, scopes, user):
        now = int(time.time())
        access = self.grant(scopes, user)
        jti = secrets.token_hex(12)
        claims = {"iss": self.args.issuer, "sub": user or "", "aud": self.args.service,
                  "exp": now + self.args.expires_in, "nbf": now, "iat": now, "jti": jti,
                  "access": access}
        return self.sign(claims), access, jti, now


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "decant-token-server"
    svc = None  # TokenService, set in main

    def log_message(self, fmt, *args):  # requests go to the JSON log, not stderr
        pass

    def send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def basic_credentials(self):
        h = self.headers.get("Authorization")
        if not h or not h.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(h[6:].strip()).decode().partition(":")
        except Exception:
            return ("", None)
        return (user, password)

    def challenge(self):
        return [("WWW-Authenticate", 'Basic realm="%s"' % BASIC_REALM)]

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != self.svc.args.path:
            return self.send_json(404, {"details": "not found"})
        q = urllib.parse.parse_qs(url.query)
        scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
        service = q.get("service", [None])[0]
        creds = self.basic_credentials()
        rec = {"time": time.time(), "method": "GET", "path": self.path, "service": service,
               "scopes": scopes, "account": q.get("account", [None])[0],
               "user": creds[0] if creds else None, "credentials": creds is not None}
        self.answer(rec, service, scopes, creds, allow_anonymous=True)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(errors="replace"))
        if url.path != self.svc.args.path or self.svc.args.no_oauth:
            self.svc.write_log({"time": time.time(), "method": "POST", "path": self.path,
                                "status": 404, "error": "oauth disabled"})
            return self.send_json(404, {"details": "not found"})
        f = {k: v[0] for k, v in form.items()}
        scopes = [s for s in f.get("scope", "").split(" ") if s]
        grant = f.get("grant_type")
        rec = {"time": time.time(), "method": "POST", "path": self.path, "grant_type": grant,
               "service": f.get("service"), "scopes": scopes, "account": None,
               "client_id": f.get("client_id")}
        if grant == "password":
            creds = (f.get("username", ""), f.get("password"))
            rec.update(user=creds[0], credentials=True)
            self.answer(rec, f.get("service"), scopes, creds, allow_anonymous=False,
                        oauth=True, offline=f.get("access_type") == "offline")
        elif grant == "refresh_token":
            with self.svc.refresh_lock:
                user = self.svc.refresh.get(f.get("refresh_token", ""))
            rec.update(user=user, credentials=True)
            if user is None:
                rec.update(status=400, error="invalid refresh_token")
                self.svc.write_log(rec)
                return self.send_json(400, {"error": "invalid_grant"})
            self.answer(rec, f.get("service"), scopes, (user, self.svc.args.password),
                        allow_anonymous=False, oauth=True)
        else:
            rec.update(user=None, credentials=False, status=400,
                       error="unsupported grant_type")
            self.svc.write_log(rec)
            self.send_json(400, {"error": "unsupported_grant_type"})

    def answer(self, rec, service, scopes, creds, allow_anonymous, oauth=False, offline=False):
        svc = self.svc
        rec.update(access=None, expires_in=None, jti=None, error=None)
        if service != svc.args.service:
            rec.update(status=400, error="service %r is not %r" % (service, svc.args.service))
            svc.write_log(rec)
            return self.send_json(400, {"details": "unknown service"})
        if creds is not None:
            if creds[0] != svc.args.user or creds[1] != svc.args.password:
                rec.update(status=401, error="incorrect username or password")
                svc.write_log(rec)
                return self.send_json(401, {"details": "incorrect username or password"},
                                      self.challenge())
            user = creds[0]
        elif allow_anonymous and svc.args.anonymous_pull:
            user = None
        else:
            rec.update(status=401, error="credentials required")
            svc.write_log(rec)
            return self.send_json(401, {"details": "credentials required"}, self.challenge())
        try:
            token, access, jti, now = svc.issue(scopes, user)
        except RuntimeError as e:
            rec.update(status=500, error=str(e))
            svc.write_log(rec)
            return self.send_json(500, {"details": str(e)})
        body = {"token": token, "access_token": token, "expires_in": svc.args.expires_in,
                "issued_at": rfc3339(now)}
        if oauth:
            body["scope"] = " ".join(scopes)
            if offline:
                rt = secrets.token_hex(16)
                with svc.refresh_lock:
                    svc.refresh[rt] = user
                body["refresh_token"] = rt
        rec.update(status=200, access=access, expires_in=svc.args.expires_in, jti=jti)
        svc.write_log(rec)
        self.send_json(200, body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", default="/token")
    ap.add_argument("--key", required=True, help="PEM RSA private key that signs tokens")
    ap.add_argument("--cert", required=True, help="PEM certificate of that key (x5c)")
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--log", required=True, help="JSON-lines request log")
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--anonymous-pull", action="store_true",
                    help="grant pull (only) to requests without credentials")
    ap.add_argument("--deny-repos", help="regex (fullmatch): grant no actions on these repos")
    ap.add_argument("--no-oauth", action="store_true", help="answer POST with 404")
    ap.add_argument("--ready-file")
    args = ap.parse_args()

    Handler.svc = TokenService(args)
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    url = "http://%s:%d" % (args.host, port)
    info = {"url": url, "realm": url + args.path, "host": "%s:%d" % (args.host, port),
            "port": port, "pid": os.getpid()}
    return fc.announce_and_serve(httpd, info, args.ready_file)


if __name__ == "__main__":
    sys.exit(main())
