#!/usr/bin/env bash
# Installs what smimegate needs to build and test on Debian 12, when missing:
# the C libraries (OpenSSL 3, libarchive, SQLite, PCRE2) with pkg-config, the openssl
# and sqlite3 command lines used as test peers, Postfix (the delivery tests' mail server,
# run only as throwaway instances by Tests/peers/postfix_instance.sh), and a Python with
# cryptography >= 45 (the second S/MIME peer); faketime and the gzip, bzip2, xz and zstd
# command lines make old signatures and compressed archives for the archive tests; the
# packages in $extra_packages too (test.sh: chromium, systemd). Sourced by demo.sh and test.sh.
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
for pkg in libssl-dev libarchive-dev libsqlite3-dev libpcre2-dev pkg-config openssl sqlite3 \
  python3 python3-venv ca-certificates postfix faketime gzip bzip2 xz-utils zstd ${extra_packages:-}; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  # Postfix without a system configuration, and no service started by a postinst (a
  # container may have no init system): policy-rc.d says no while apt-get runs, unless
  # the machine has its own policy.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  (
    policy_rc=/usr/sbin/policy-rc.d
    if [[ ! -e $policy_rc ]]; then
      trap '$SUDO rm -f "$policy_rc"' EXIT
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc" >/dev/null
      $SUDO chmod 0755 "$policy_rc"
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  )
fi
