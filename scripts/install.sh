#!/usr/bin/env bash
# scripts/install.sh [--debug] PREFIX: builds smimegate and installs
#   PREFIX/bin/smimegate                                  the binary (release build; --debug: the debug one)
#   PREFIX/share/man/man1/smimegate.1                     the manual, generated from the command tree
#   PREFIX/share/bash-completion/completions/smimegate    bash completion
#   PREFIX/share/zsh/site-functions/_smimegate            zsh completion
#   PREFIX/share/fish/vendor_completions.d/smimegate.fish fish completion
# e.g. `scripts/install.sh /usr/local` as root. Installs the Debian build dependencies when missing.
set -euo pipefail
configuration=release
if [[ ${1:-} == --debug ]]; then
  configuration=debug
  shift
fi
if [[ $# -ne 1 || -z $1 || $1 == -* ]]; then
  echo "usage: scripts/install.sh [--debug] PREFIX" >&2
  exit 2
fi
prefix=$1
cd "$(dirname "$0")/.."
source scripts/setup.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! swift build -c "$configuration" --product smimegate >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
# swift-argument-parser's manual generator (its GenerateManual plugin) writes an mdoc page from the
# command tree, the same text as --help. It does not escape a help line that starts with "'" (roff
# reads it as a macro) and leaves blank lines (a paragraph break in help, a warning in mdoc): both are
# mended here, and the tests check the page with `groff -ww`.
if ! swift package generate-manual --configuration "$configuration" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
manual=.build/plugins/GenerateManual/outputs/smimegate/smimegate.1
binary=$(swift build -c "$configuration" --show-bin-path)/smimegate

install -d -m 0755 "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0755 "$binary" "$prefix/bin/smimegate"
sed -e "s/^'/\\\\\\&'/" -e 's/^$/.Pp/' "$manual" >"$log"
install -m 0644 "$log" "$prefix/share/man/man1/smimegate.1"
for shell in bash zsh fish; do
  case $shell in
    bash) target=$prefix/share/bash-completion/completions/smimegate ;;
    zsh) target=$prefix/share/zsh/site-functions/_smimegate ;;
    fish) target=$prefix/share/fish/vendor_completions.d/smimegate.fish ;;
  esac
  "$prefix/bin/smimegate" --generate-completion-script "$shell" >"$log"
  install -m 0644 "$log" "$target"
done
echo "installed smimegate $("$prefix/bin/smimegate" --version) into $prefix: bin/smimegate, share/man/man1/smimegate.1," \
  "bash, zsh and fish completions"
