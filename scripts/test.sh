#!/usr/bin/env bash
# Runs Decant's test suite on a fresh machine: installs what it needs, builds, tests.
# The tests mount overlays, create device nodes and start a private containerd: run as root.
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
