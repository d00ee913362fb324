#!/usr/bin/env bash
# Instructions per message of each operation (callgrind, 1 worker, the first N messages of the 4k corpus,
# start-up subtracted: a run over N messages minus a run over none). Unlike this machine's wall clock,
# which scatters by ±20 % between identical runs, the counts repeat: a regression shows in them.
# Writes bench/results/instructions.md and prints it.
#   bench/instructions.sh              # 200 messages per operation
#   bench/instructions.sh --count 500 --work /dev/shm/instructions-bench
set -euo pipefail
cd "$(dirname "$0")/.."

command=(bench/instructions.sh "$@")
count=200 work= results=bench/results
while (($#)); do
  case "$1" in
    --count) count=$2; shift ;;
    --work) work=$2; shift ;;
    --results) results=$2; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "instructions.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
work=$(realpath -m "${work:-.build/bench-instructions}")
log() { echo "instructions: $*" >&2; }

source scripts/setup.sh
source bench/lib.sh
can_count_instructions || exit 2
mkdir -p "$work"
build_release "$work" instructions.sh
# valgrind 3.19 (Debian 12) cannot read the DWARF 5 that swiftc writes: count a copy without it.
binary=$work/smimegate
objcopy --strip-debug .build/release/smimegate "$binary"

rm -rf "$work/setup"
log "PKI, homes and a 4k corpus of $count messages in $work/setup"
eval "$(python3 bench/bench.py --binary .build/release/smimegate --work "$work/setup" --setup-only "$count")"
# sets pki, home, incoming_home, maildir
for profile in sign-detached encrypt; do
  rm -rf "$work/prepared-$profile"
  "$binary" --home "$home" process outgoing "$maildir" --out "$work/prepared-$profile" --profile "$profile" \
    --no-progress >/dev/null
done
empty=$work/empty
rm -rf "$empty" && mkdir -p "$empty/new" "$empty/cur" "$empty/tmp"

declare -A per_message
measure() {
  local name=$1 input=$2
  shift 2
  local totals=() source
  for source in "$empty" "$input"; do
    rm -rf "$work/out"
    totals+=("$(instructions_of /dev/null "$binary" "$@" "$source" --out "$work/out" --workers 1 --no-progress)") ||
      { echo "instructions.sh: $name failed" >&2; exit 1; }
  done
  per_message[$name]=$(((totals[1] - totals[0]) / count))
  log "$(printf '%-16s %10d instructions/message (start-up %d)' "$name" "${per_message[$name]}" "${totals[0]}")"
}
operations=(pass-through sign-detached sign-opaque encrypt-1 sign-encrypt verify decrypt)
for op in "${operations[@]}"; do
  case "$op" in
    pass-through) measure "$op" "$maildir" --home "$incoming_home" process incoming ;;
    verify) measure "$op" "$work/prepared-sign-detached/signed" --home "$incoming_home" process incoming ;;
    decrypt) measure "$op" "$work/prepared-encrypt/encrypted" --home "$incoming_home" process incoming ;;
    encrypt-1) measure "$op" "$maildir" --home "$home" process outgoing --profile encrypt ;;
    *) measure "$op" "$maildir" --home "$home" process outgoing --profile "$op" ;;
  esac
done
rm -rf "$work/out"

mkdir -p "$results"
{
  echo "# Instructions per message"
  echo
  echo "\`${command[*]}\` on $(date -u +%Y-%m-%d) at \`$(git rev-parse --short HEAD)\`: callgrind, 1 worker, the first $count"
  echo "messages of the 4k corpus (RSA-2048, SHA-256, AES-256-CBC), start-up subtracted (a run over no messages)."
  echo "The inputs of verify and decrypt are smimegate's own sign-detached and encrypt outputs."
  echo
  echo "| operation | instructions/message | ÷ pass-through |"
  echo "| --- | ---: | ---: |"
  for op in "${operations[@]}"; do
    echo "| $op | ${per_message[$op]} | $(awk -v a="${per_message[$op]}" -v b="${per_message[pass-through]}" \
      'BEGIN { printf "%.1f", a / b }') |"
  done
} >"$results/instructions.md"
cat "$results/instructions.md"
