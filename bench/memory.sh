#!/usr/bin/env bash
# Memory with large messages (issue 14): peak RSS of whole runs over corpora of ~1 MiB and ~8 MiB
# messages, with 1 and 2 workers, for each operation; and what that is per worker, in copies of the
# largest message above an empty run's RSS (start-up: keystore, keys, trust store, the binary).
# Issue 14's bound: peak RSS per worker ≤ 4 × the largest message + 20 MB.
# Writes bench/results/memory.md and prints it.
#   bench/memory.sh                          # 24 × 1 MiB and 12 × 8 MiB messages
#   bench/memory.sh --work /dev/shm/memory-bench
set -euo pipefail
cd "$(dirname "$0")/.."

work= results=bench/results
while (($#)); do
  case "$1" in
    --work) work=$2; shift ;;
    --results) results=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
work=$(realpath -m "${work:-.build/bench-memory}")
log() { echo "memory: $*" >&2; }

source scripts/setup.sh
source bench/lib.sh
mkdir -p "$work"
build_release "$work" memory.sh
binary=$(realpath .build/release/smimegate)

# Peak RSS in KiB and wall seconds of a command: "KIB SECONDS".
peak() { /usr/bin/time -f '%M %e' "$@" 2>&1 >/dev/null | tail -1; }

table=$work/table.md
{
  echo "| corpus | operation | workers | peak RSS (MiB) | above an empty run, per worker (MiB) | ÷ largest message | bound (MiB) | seconds |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$table"
for mix in 1m 8m; do
  count=$([ "$mix" = 1m ] && echo 24 || echo 12)
  rm -rf "$work/$mix"
  log "PKI, homes and $count messages of about ${mix/m/ MiB} in $work/$mix"
  eval "$(python3 bench/bench.py --binary "$binary" --work "$work/$mix" --setup-only "$count" --setup-mix "$mix")"
  largest=$(find "$maildir/new" -type f -printf '%s\n' | sort -n | tail -1)
  empty=$work/$mix/empty
  mkdir -p "$empty/new" "$empty/cur" "$empty/tmp"
  base=$(peak "$binary" --home "$home" process outgoing "$empty" --out "$work/$mix/out-empty" --profile sign-opaque \
    --no-progress | cut -d' ' -f1)
  # Inputs of the incoming operations, made once.
  for profile in encrypt sign-detached; do
    "$binary" --home "$home" process outgoing "$maildir" --out "$work/$mix/prepared-$profile" --profile "$profile" \
      --no-progress >/dev/null
  done
  for op in sign-opaque sign-detached encrypt decrypt verify; do
    for workers in 1 2; do
      out=$work/$mix/out
      rm -rf "$out"
      case $op in
        decrypt) run=("$binary" --home "$incoming_home" process incoming "$work/$mix/prepared-encrypt/encrypted") ;;
        verify) run=("$binary" --home "$incoming_home" process incoming "$work/$mix/prepared-sign-detached/signed") ;;
        *) run=("$binary" --home "$home" process outgoing "$maildir" --profile "$op") ;;
      esac
      read -r kib seconds < <(peak "${run[@]}" --out "$out" --workers "$workers" --no-progress)
      python3 - "$mix" "$op" "$workers" "$kib" "$base" "$largest" "$seconds" >>"$table" <<'PY'
import sys
mix, op, workers, kib, base, largest, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), *map(float, sys.argv[4:])
mib = 1 << 20
per_worker = (kib - base) * 1024 / workers
bound = 4 * largest + 20e6
print(f"| {mix} | {op} | {workers} | {kib / 1024:.0f} | {per_worker / mib:.1f} | {per_worker / largest:.1f} "
      f"| {bound / mib:.0f} | {seconds:.2f} |")
PY
    done
  done
  echo "| $mix | (empty run) | — | $((base / 1024)) | | | | |" >>"$table"
done

{
  echo "# Memory with large messages"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, \`bench/memory.sh\`; one whole-process run per row (GNU time's peak RSS)."
  echo "\"Above an empty run, per worker\": (peak RSS − the RSS of a run over an empty maildir) ÷ workers;"
  echo "\"÷ largest message\": that in copies of the corpus's largest message. Bound: issue 14's"
  echo "4 × the largest message + 20 MB a worker."
  echo
  cat "$table"
} >"$results/memory.md"
cat "$results/memory.md"
