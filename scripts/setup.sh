#!/usr/bin/env bash
# Installs the Debian packages Decant builds and tests with. Idempotent; needs root.
#   bash scripts/setup.sh
set -euo pipefail

packages=(
    # Build: the C libraries Decant links, found through pkg-config.
    pkg-config liburing-dev libarchive-dev libzstd-dev zlib1g-dev libisal-dev libsqlite3-dev
    # Tests: containerd 1.6 is the reference implementation; zstd and python3 make fixtures;
    # attr to inspect xattrs by hand; e2fsprogs makes the small file systems tests fill or shut
    # down (mkfs.ext4), and chattr makes files immutable.
    containerd zstd pigz python3 attr e2fsprogs
    # Registry tests (Tests/RegistryFixtures): distribution 2.8 as the registry, skopeo to push,
    # htpasswd for basic auth, openssl for the CA and token signing; curl for selftest.sh.
    docker-registry skopeo apache2-utils openssl curl
)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
