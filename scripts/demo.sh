#!/usr/bin/env bash
# Quick start, command 1: build smimegate and run its demo on built-in defaults
# (a throwaway home, two organisations' keys, one message signed, encrypted,
# verified and decrypted back). Extra arguments go to `smimegate demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product smimegate 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || true
exec .build/release/smimegate demo "$@"
