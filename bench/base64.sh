#!/bin/sh
# smimegate's base64 against swift-extras-base64 (issue 14): builds bench/base64, a package of its
# own, in release mode and prints the table; --write also saves it to bench/results/base64.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/base64"
swift build -c release >/dev/null
table=$(.build/release/base64-bench)
echo "$table"
if [ "${1:-}" = "--write" ]; then
    {
        echo "# Base64: smimegate against swift-extras-base64 1.2.0"
        echo
        echo "$(date -u +%Y-%m-%d), $(nproc) cores, one thread; thread CPU time, best of seven alternating rounds."
        echo "MB/s of raw bytes. \"76-column CRLF lines\" is what S/MIME writes and reads (RFC 2045 §6.8);"
        echo "swift-extras-base64 knows no line breaks, so there it encodes 57 bytes at a time straight into the"
        echo "output, and decodes line by line (which only works where every line holds whole groups)."
        echo
        echo "$table"
    } >"$here/results/base64.md"
fi
