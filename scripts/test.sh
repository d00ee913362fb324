#!/usr/bin/env bash
# Quick start, command 2 (and CI's): build with zero warnings in our code and
# run the whole test suite, with the openssl command line and Python's
# cryptography as interoperability peers and ../shared/vectors as third-party data.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the tests need these: Chromium renders `report --html`, systemd-analyze checks contrib/'s units,
# zsh, fish, man and groff read what scripts/install.sh installs; PostgreSQL is the second keystore backend
# (the tests start their own server: TestSupport/PostgresServer.swift).
extra_packages="chromium systemd zsh fish man-db groff-base postgresql"
source scripts/setup.sh

# The pyca peer needs cryptography >= 45 (PKCS #7 envelopes with AES-256, pkcs7_decrypt_smime);
# asn1crypto builds hand-made CMS structures for the attack tests; aiosmtpd is the SMTP
# server of the delivery tests (Tests/peers/smtp_server.py); prometheus_client's parser reads
# --metrics-file output, Pillow looks at Chromium's rendering of `report --html`, PyYAML reads contrib/k8s.
has_pyca() {
  "$1" -c 'import aiosmtpd, asn1crypto, cryptography, prometheus_client, PIL, yaml, sys
sys.exit(int(cryptography.__version__.split(".")[0]) < 45)' 2>/dev/null
}
if [[ -n "${SMIMEGATE_PYTHON:-}" ]] && has_pyca "$SMIMEGATE_PYTHON"; then
  :
elif has_pyca python3; then
  export SMIMEGATE_PYTHON=python3
else
  if ! has_pyca .build/pyenv/bin/python; then
    echo "test: installing Python cryptography, asn1crypto, aiosmtpd, prometheus_client, Pillow and PyYAML into .build/pyenv" >&2
    python3 -m venv .build/pyenv
    .build/pyenv/bin/pip install -q "cryptography>=45" asn1crypto aiosmtpd prometheus_client pillow pyyaml
  fi
  export SMIMEGATE_PYTHON="$PWD/.build/pyenv/bin/python"
fi

vectors="${SMIMEGATE_VECTORS:-../shared/vectors}"
if [[ ! -d "$vectors/thunderbird-nss-smime" ]]; then
  echo "test: third-party vectors not found at $vectors (set SMIMEGATE_VECTORS)" >&2
  exit 2
fi

# scripts/sanitize.sh sets SMIMEGATE_SANITIZER (thread or address): the same build and tests with
# that sanitizer, in a build directory of their own.
build=()
if [[ -n "${SMIMEGATE_SANITIZER:-}" ]]; then
  build=(--sanitize="$SMIMEGATE_SANITIZER" --scratch-path ".build/sanitize-$SMIMEGATE_SANITIZER")
fi

log=$(mktemp)
if ! swift build --build-tests "${build[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
if grep -E "^$PWD/(Sources|Tests|Fuzz)/.*warning:" "$log" >&2; then
  echo "test: the build has warnings (they count as errors here)" >&2
  exit 1
fi
rm -f "$log"
# What `scripts/install.sh PREFIX` installs, from this debug build, for InstallTests to look at
# (a test cannot run SwiftPM itself while `swift test` holds the build directory).
rm -rf .build/install-test
bash scripts/install.sh --debug .build/install-test >/dev/null

# XCTest only (the suite has no swift-testing tests), then one plain closing line. Without arguments, a
# second pass runs the keystore's tests and the commands that use it most with every keystore in PostgreSQL
# (SMIMEGATE_TEST_KEYSTORE=postgresql): both backends pass the same tests.
postgres_tests='KeystoreTests\.|KeystoreCommandTests|HarvestTests|TrustTests|PolicyCommandTests|OperationsTests|ShardRunTests|BundleTests'
out=$(mktemp)
status=0
swift test --skip-build --disable-swift-testing "${build[@]}" "$@" 2>&1 | tee "$out" || status=$?
summaries=$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" "$out" | tail -1 || true)
if (($# == 0)); then
  echo "test: the keystore tests again, with the keystore in PostgreSQL" >&2
  SMIMEGATE_TEST_KEYSTORE=postgresql swift test --skip-build --disable-swift-testing "${build[@]}" \
    --filter "$postgres_tests" 2>&1 | tee "$out" || status=$?
  summaries+=$'\n'$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" "$out" | tail -1 || true)
fi
rm -f "$out"
total=0
failed=0
while read -r summary; do
  if [[ -z "$summary" ]]; then
    echo "test: a pass ran no test" >&2
    exit 1
  fi
  total=$((total + $(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")))
  failed=$((failed + $(sed -E 's/.*with ([0-9]+) failures?.*/\1/' <<<"$summary")))
done <<<"$summaries"
echo "$((total - failed)) passed, $failed failed"
exit "$status"
