#!/usr/bin/env bash
# Quick start, command 1: build smimegate and run its demo on built-in defaults
# (our organisation and two partners, a maildir of 300 messages, `process
# outgoing` by a policy, then `process incoming` at a partner). Extra arguments
# go to `smimegate demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product smimegate 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || true
exec .build/release/smimegate demo "$@"
