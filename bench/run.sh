#!/usr/bin/env bash
# The benchmark, in one command: builds smimegate in release mode, makes a test
# PKI and deterministic corpora, measures smimegate against `openssl cms` in a
# shell loop, Python's cryptography, and the machine's raw `openssl speed`
# limits, and writes bench/results/latest.{md,json} and workers.png.
#   bench/run.sh            # the full run (about 15 minutes on 2 cores)
#   bench/run.sh --quick    # about a minute
#   bench/run.sh --large    # adds the 100k-message scale check
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
need=()
for pkg in time; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg"); done
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
venv=.build/bench-venv
if ! "$venv/bin/python" -c 'import cryptography, matplotlib' 2>/dev/null; then
  echo "bench: installing cryptography and matplotlib into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "cryptography>=45" matplotlib
fi
swift build -c release --product smimegate 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || true
exec "$venv/bin/python" bench/bench.py --binary .build/release/smimegate "$@"
