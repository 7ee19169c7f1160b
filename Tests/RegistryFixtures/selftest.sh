#!/usr/bin/env bash
# selftest.sh — exercise every fixture of this folder against the real registry; exit non-zero
# on the first surprise.
#
# Usage:  bash Tests/RegistryFixtures/selftest.sh [WORKDIR]
#         (WORKDIR default: a fresh mktemp -d, removed at the end unless KEEP=1; needs
#          docker-registry, skopeo, htpasswd, openssl, curl, python3, zstd)
#
# Generates the make-images.py corpus, then for each registry mode starts it, pushes, pulls
# back and checks digests; then puts fault-proxy.py in front of the plain registry and checks
# every fault with curl and skopeo. Everything it started is stopped on exit (also on error),
# and it checks that no process it started survives.

set -euo pipefail

HERE=$(dirname "$(realpath "$0")")
IMAGES_PY=$(dirname "$HERE")/ImageFixtures/make-images.py
REG=("python3" "$HERE/registry.py")
PROXY=("python3" "$HERE/fault-proxy.py")
for tool in docker-registry skopeo htpasswd openssl curl python3 zstd; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 2; }
done

if [ $# -ge 1 ]; then W=$(realpath -m "$1"); mkdir -p "$W"; OWN=; else W=$(mktemp -d /tmp/decant-regfix.XXXXXX); OWN=1; fi
DIRS=()
cleanup() {
    local rc=$? d
    for d in "${DIRS[@]}"; do
        "${PROXY[@]}" stop --dir "$d" >/dev/null 2>&1 || true
        "${REG[@]}" stop --dir "$d" >/dev/null 2>&1 || true
    done
    if [ "$rc" = 0 ] && [ -z "${KEEP:-}" ] && [ -n "$OWN" ]; then rm -rf "$W"; fi
    [ "$rc" = 0 ] || echo "FAILED (rc $rc); files in $W" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

jget() { # FILE KEY... : print FILE's JSON value at that path (numeric keys index lists)
    python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
ACCEPT_M='Accept: application/vnd.oci.image.manifest.v1+json'

python3 "$IMAGES_PY" "$W/images" >/dev/null
IJ=$W/images/images.json
MULTI=$(jget "$IJ" images 0 manifestDigest)
BIG=$(jget "$IJ" images 0 layers 0 digest)      # multi's 310 KiB base layer
BIGSIZE=$(jget "$IJ" images 0 layers 0 size)

# ---- plain ------------------------------------------------------------------------------------
D=$W/plain; DIRS+=("$D")
"${REG[@]}" start --dir "$D" --mode plain >"$W/plain.json"
H=$(jget "$W/plain.json" host); U=$(jget "$W/plain.json" url)
"${REG[@]}" push-corpus --registry-host "$H" --images "$W/images" --dir "$D" >"$W/corpus.json" 2>"$W/push.log"
python3 - "$IJ" "$W/corpus.json" <<'EOF'
import json, sys
images = {i["name"]: i for i in json.load(open(sys.argv[1]))["images"]}
pushed = json.load(open(sys.argv[2]))
for name, im in images.items():
    want = im.get("indexDigest") or im["manifestDigest"]
    got = pushed[name]
    assert got["digest"] == want, (name, got, want)
    assert got["how"] == ("seeded" if name in ("bad-layer-digest", "missing-blob", "schema1")
                          else "skopeo"), (name, got["how"])
EOF
ok "plain: push-corpus, every digest equals images.json (3 seeded)"
[ "$("${REG[@]}" push --registry-host "$H" --src "oci:$W/images/multi:latest" --dest t/multi:v1 2>/dev/null)" = "$MULTI" ] || fail "push digest"
mkdir -p "$W/pulled"
skopeo --insecure-policy copy -q --preserve-digests --src-tls-verify=false "docker://$H/t/multi:v1" "oci:$W/pulled/plain:latest"
[ "$(jget "$W/pulled/plain/index.json" manifests 0 digest)" = "$MULTI" ] || fail "pulled digest"
ok "plain: push + skopeo pull back, same manifest digest"
curl -sfI -H "$ACCEPT_M" "$U/v2/t/multi/manifests/v1" | tr -d '\r' | grep -qx "Docker-Content-Digest: $MULTI" || fail "HEAD digest"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$U/v2/t/multi/manifests/v1")" = 404 ] || fail "HEAD without Accept should be 404"
ok "plain: HEAD manifest has Docker-Content-Digest (with Accept; 404 without)"
r=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H 'Range: bytes=1000-' "$U/v2/t/multi/blobs/$BIG")
[ "$r" = "206 $((BIGSIZE - 1000))" ] || fail "Range: $r"
ok "plain: Range bytes=1000- -> 206"

# ---- basic-tls --------------------------------------------------------------------------------
D=$W/btls; DIRS+=("$D")
"${REG[@]}" start --dir "$D" --mode basic-tls >"$W/btls.json"
H=$(jget "$W/btls.json" host); CA=$(jget "$W/btls.json" ca); CAD=$(jget "$W/btls.json" ca_dir)
C=$(jget "$W/btls.json" user):$(jget "$W/btls.json" password)
[ "$("${REG[@]}" push --registry-host "$H" --src "oci:$W/images/multi:latest" --dest t/multi:v1 --creds "$C" --ca "$CA" 2>/dev/null)" = "$MULTI" ] || fail "basic push"
if "${REG[@]}" push --registry-host "$H" --src "oci:$W/images/multi:latest" --dest t/multi:v2 --creds x:y --ca "$CA" >/dev/null 2>&1; then fail "push with wrong password succeeded"; fi
skopeo --insecure-policy copy -q --preserve-digests --src-cert-dir "$CAD" --src-creds "$C" "docker://$H/t/multi:v1" "oci:$W/pulled/btls:latest"
[ "$(jget "$W/pulled/btls/index.json" manifests 0 digest)" = "$MULTI" ] || fail "btls pulled digest"
curl -s -D - -o /dev/null --cacert "$CA" "https://$H/v2/" | tr -d '\r' | grep -qix 'www-authenticate: Basic realm="decant-registry"' || fail "basic challenge"
ok "basic-tls: push (wrong password refused) + pull with CA dir, Basic challenge"

# ---- token ------------------------------------------------------------------------------------
D=$W/token; DIRS+=("$D")
"${REG[@]}" start --dir "$D" --mode token >"$W/token.json"
H=$(jget "$W/token.json" host); U=$(jget "$W/token.json" url); REALM=$(jget "$W/token.json" realm)
C=$(jget "$W/token.json" user):$(jget "$W/token.json" password); TL=$(jget "$W/token.json" token_log)
[ "$("${REG[@]}" push --registry-host "$H" --src "oci:$W/images/multi:latest" --dest t/multi:v1 --creds "$C" 2>/dev/null)" = "$MULTI" ] || fail "token push"
skopeo --insecure-policy copy -q --preserve-digests --src-tls-verify=false --src-creds "$C" "docker://$H/t/multi:v1" "oci:$W/pulled/token:latest"
[ "$(jget "$W/pulled/token/index.json" manifests 0 digest)" = "$MULTI" ] || fail "token pulled digest"
if skopeo inspect --tls-verify=false --no-creds "docker://$H/t/multi:v1" >/dev/null 2>&1; then fail "anonymous pull allowed"; fi
curl -s -D - -o /dev/null -H "$ACCEPT_M" "$U/v2/t/multi/manifests/v1" | tr -d '\r' |
    grep -qix "www-authenticate: Bearer realm=\"$REALM\",service=\"decant-registry\",scope=\"repository:t/multi:pull\"" || fail "bearer challenge"
python3 - "$TL" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
push = [r for r in recs if r["status"] == 200 and "repository:t/multi:pull,push" in r["scopes"]]
assert push and push[0]["credentials"] and push[0]["user"] == "decant", recs
pull = [r for r in recs if r["status"] == 200 and r["scopes"] == ["repository:t/multi:pull"]]
assert pull and pull[0]["access"][0]["actions"] == ["pull"], recs
anon = [r for r in recs if not r["credentials"]]
assert anon and all(r["status"] == 401 for r in anon), recs
EOF
ok "token: push + pull through token-server.py (x5c accepted), anonymous refused, token log"

# ---- fault proxy ------------------------------------------------------------------------------
UP=$(jget "$W/plain.json" url)
D=$W/proxy-cut; DIRS+=("$D")
"${PROXY[@]}" start --dir "$D" --upstream "$UP" --cut-after 100000 >"$W/proxy-cut.json"
P=$(jget "$W/proxy-cut.json" url); L=$(jget "$W/proxy-cut.json" log)
rc=0; curl -s -o "$W/part1" "$P/v2/t/multi/blobs/$BIG" || rc=$?
[ "$rc" = 18 ] && [ "$(stat -c %s "$W/part1")" = 100000 ] || fail "cut: curl rc $rc"
r=$(curl -s -o "$W/part2" -w '%{http_code}' -H 'Range: bytes=100000-' "$P/v2/t/multi/blobs/$BIG")
[ "$r" = 206 ] || fail "resume status $r"
[ "sha256:$(cat "$W/part1" "$W/part2" | sha256sum | cut -d' ' -f1)" = "$BIG" ] || fail "resumed digest"
[ "sha256:$(curl -sf "$P/v2/t/multi/blobs/$BIG" | sha256sum | cut -d' ' -f1)" = "$BIG" ] || fail "2nd GET"
skopeo --insecure-policy copy -q --preserve-digests --src-tls-verify=false "docker://$(jget "$W/proxy-cut.json" host)/t/multi:v1" "oci:$W/pulled/proxy:latest"
python3 - "$L" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
cut = [r for r in recs if r["fault"] == "cut"]
assert len(cut) == 1 and cut[0]["bytes"] == 100000 and cut[0]["status"] == 200, recs
assert any(r["range"] == "bytes=100000-" and r["status"] == 206 for r in recs), recs
EOF
ok "proxy --cut-after: 100000 bytes then EOF (curl 18), Range resume 206, later GETs whole, skopeo pull through it"

D=$W/proxy-faults; DIRS+=("$D")
"${PROXY[@]}" start --dir "$D" --upstream "$UP" --corrupt-blob "$BIG" --status 503 --status-count 2 \
    --status-path-regex '/manifests/' --not-found-repos 'missing/.*' --redirect-blobs --redirect-reject-auth >"$W/proxy-f.json"
P=$(jget "$W/proxy-f.json" url); PH=$(jget "$W/proxy-f.json" host); L=$(jget "$W/proxy-f.json" log)
codes=$(for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code} ' -H "$ACCEPT_M" "$P/v2/t/multi/manifests/v1"; done)
[ "$codes" = "503 503 200 " ] || fail "status fault: $codes"
curl -s -D - -o /dev/null -H "$ACCEPT_M" "$P/v2/t/multi/manifests/v1" >/dev/null
body=$(curl -s -H "$ACCEPT_M" "$P/v2/missing/x/manifests/latest")
[ "$body" = '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"latest"}}]}' ] || fail "not-found body $body"
got=$(curl -sfL "$P/v2/t/multi/blobs/$BIG" | sha256sum | cut -d' ' -f1)
[ "sha256:$got" != "$BIG" ] || fail "corrupt blob has the right digest"
[ "$(curl -sfL "$P/v2/t/multi/blobs/$BIG" | wc -c)" = "$BIGSIZE" ] || fail "corrupt blob size"
r=$(curl -sL --location-trusted -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer x' "$P/v2/t/multi/blobs/$BIG")
[ "$r" = 400 ] || fail "--redirect-reject-auth: $r"
if skopeo --insecure-policy copy -q --preserve-digests --src-tls-verify=false "docker://$PH/t/multi:v1" "oci:$W/pulled/corrupt:latest" 2>"$W/corrupt.err"; then
    fail "skopeo accepted a corrupt blob"
fi
grep -q "Digest did not match" "$W/corrupt.err" || fail "skopeo error: $(cat "$W/corrupt.err")"
python3 - "$L" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
red = [r for r in recs if r["listener"] == "redirect"]
main_blob = [r for r in recs if r["listener"] == "main" and "/blobs/" in r["path"] and r["method"] == "GET"]
assert main_blob and all(r["status"] == 307 for r in main_blob), main_blob
assert [r for r in red if r["fault"] == "auth-on-redirect" and r["authorization"]], red
skopeo = [r for r in red if r["fault"] != "auth-on-redirect"]
assert skopeo and not any(r["authorization"] for r in skopeo), red
assert any(r["fault"] == "corrupt" for r in red), red
EOF
ok "proxy: --status 503 x2, --not-found-repos body, --corrupt-blob (skopeo: digest mismatch), --redirect-blobs (no Authorization on 127.0.0.2; --redirect-reject-auth 400)"

# ---- stop ---------------------------------------------------------------------------------------
pids=$(cat "$W"/*/*.pid | python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["pid"]) for l in sys.stdin))')
for d in "${DIRS[@]}"; do "${PROXY[@]}" stop --dir "$d" >/dev/null; "${REG[@]}" stop --dir "$d" >/dev/null; done
for p in $pids; do
    if [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat")" != Z ]; then fail "pid $p survived stop"; fi
done
ls "$W"/*/*.pid >/dev/null 2>&1 && fail "pid files left"
ok "stop: no process left ($pids)"
