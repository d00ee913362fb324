#!/usr/bin/env bash
# Installs what smimegate needs to build and test on Debian 12, when missing:
# the C libraries (OpenSSL 3, libarchive, SQLite, PCRE2) with pkg-config, the openssl
# and sqlite3 command lines used as test peers, and a Python with
# cryptography >= 45 (the second S/MIME peer). Sourced by demo.sh and test.sh.
set -euo pipefail

# A tool that replaced /dev/null with a regular file (older smimegate did, with
# `-o /dev/null` as root) breaks every later `>/dev/null`: make it the device again.
if [[ ! -c /dev/null && $(id -u) -eq 0 ]]; then
  rm -f /dev/null
  mknod -m 666 /dev/null c 1 3
  echo "setup: /dev/null was not a character device: recreated it (c 1 3, mode 666)" >&2
elif [[ ! -c /dev/null ]]; then
  echo "setup: /dev/null is not a character device; as root: rm /dev/null && mknod -m 666 /dev/null c 1 3" >&2
fi

export PATH="$PATH:/opt/swift/usr/bin"
if ! command -v swift >/dev/null; then
  echo "setup: the Swift 6 toolchain is not on PATH (expected in /opt/swift/usr/bin)" >&2
  exit 2
fi

need=()
for pkg in libssl-dev libarchive-dev libsqlite3-dev libpcre2-dev pkg-config openssl sqlite3 python3 python3-venv ca-certificates; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
